package io.syncedstore.runtime;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.Json;
import io.syncedstore.api.Tier;
import io.syncedstore.api.auth.Principal;
import io.syncedstore.api.auth.Scopes;
import io.syncedstore.api.protocol.PatchOp;
import io.syncedstore.api.store.Write;
import io.syncedstore.runtime.journal.InstanceEvent;
import io.syncedstore.runtime.journal.MutationApplied;
import io.syncedstore.runtime.journal.MutationFailed;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The effects of one group commit, as every {@link ClientSession} of the instance receives them:
 * immutable, shared by all sessions, and filtered by each for its user. The public part of the
 * patch is the same for everyone, so it is rendered to JSON once, by the first session that needs
 * it, and reused by the others.
 */
final class CommittedBatch {
  /**
   * One mutation of the batch.
   *
   * @param clientGroupId its client's group
   * @param clientId its client
   * @param mutationId its id
   * @param failure the failure, or {@code null} if applied
   */
  record Change(String clientGroupId, String clientId, long mutationId, MutationFailed failure) {}

  private final String baseCookie;
  private final String cookie;
  private final List<Change> changes;
  /** The last write to each public entry, in the order of those last writes. */
  private final List<Write> publicWrites;
  /** The same for private entries, by owner. */
  private final Map<String, List<Write>> privateWrites;
  /** Last mutation ids by client group and client. */
  private final Map<String, Map<String, Long>> lastMutationIds;
  private String publicOpsJson;
  /** What each written row held before the batch ({@link #ABSENT} for none), for scoped sessions. */
  private final Map<List<Object>, JsonNode> previous;

  /** The previous value of a row that did not exist. */
  static final JsonNode ABSENT = com.fasterxml.jackson.databind.node.MissingNode.getInstance();

  /** @return the key of {@code w}'s row in the previous-values map */
  static List<Object> key(Write w) {
    return java.util.Arrays.asList(w.tier(), w.owner(), w.table(), w.itemKey());
  }

  private CommittedBatch(String baseCookie, String cookie, List<Change> changes, List<Write> publicWrites,
      Map<String, List<Write>> privateWrites, Map<String, Map<String, Long>> lastMutationIds, Map<List<Object>, JsonNode> previous) {
    this.previous = previous;
    this.baseCookie = baseCookie;
    this.cookie = cookie;
    this.changes = changes;
    this.publicWrites = publicWrites;
    this.privateWrites = privateWrites;
    this.lastMutationIds = lastMutationIds;
  }

  /** @return the batch of {@code events}, persisted together, taking the instance from {@code baseCookie} to {@code cookie} */
  static CommittedBatch of(String baseCookie, String cookie, List<InstanceEvent> events) {
    return of(baseCookie, cookie, events, Map.of());
  }

  /**
   * @param previous what the rows the batch writes held before it ({@link #ABSENT} for none); a row
   *     missing from it counts as possibly seen, so scoped sessions are sent its delete
   * @return the batch of {@code events}, persisted together, taking the instance from {@code baseCookie} to {@code cookie}
   */
  static CommittedBatch of(String baseCookie, String cookie, List<InstanceEvent> events, Map<List<Object>, JsonNode> previous) {
    List<Change> changes = new ArrayList<>(events.size());
    Map<List<Object>, Write> last = new LinkedHashMap<>();
    Map<String, Map<String, Long>> lastMutationIds = new HashMap<>();
    for (InstanceEvent event : events) {
      if (event instanceof MutationApplied e) {
        changes.add(new Change(e.clientGroupId(), e.clientId(), e.mutationId(), null));
        lastMutationIds.computeIfAbsent(e.clientGroupId(), g -> new LinkedHashMap<>()).put(e.clientId(), e.mutationId());
        for (Write w : e.writes()) {
          if (w.tier() != Tier.SERVER_ONLY) {
            List<Object> key = java.util.Arrays.asList(w.tier(), w.owner(), w.table(), w.itemKey());
            last.remove(key);
            last.put(key, w);
          }
        }
      } else if (event instanceof MutationFailed e) {
        changes.add(new Change(e.clientGroupId(), e.clientId(), e.mutationId(), e));
        lastMutationIds.computeIfAbsent(e.clientGroupId(), g -> new LinkedHashMap<>()).put(e.clientId(), e.mutationId());
      }
    }
    List<Write> publicWrites = new ArrayList<>();
    Map<String, List<Write>> privateWrites = new HashMap<>();
    for (Write w : last.values()) {
      if (w.tier() == Tier.PUBLIC) {
        publicWrites.add(w);
      } else {
        privateWrites.computeIfAbsent(w.owner(), o -> new ArrayList<>()).add(w);
      }
    }
    return new CommittedBatch(baseCookie, cookie, List.copyOf(changes), publicWrites, privateWrites, lastMutationIds, previous);
  }

  String baseCookie() {
    return baseCookie;
  }

  String cookie() {
    return cookie;
  }

  List<Change> changes() {
    return changes;
  }

  /**
   * @return the comma-separated JSON of the patch ops {@code principal} may see: public entries and
   *     its own private ones; for a scoped principal only those of covered tables, a row its scopes
   *     do not cover sent as a delete (it may have left the scopes with this write)
   */
  String opsJson(Principal principal) {
    String userId = principal.userId();
    if (principal.scoped()) {
      return scopedOpsJson(userId, principal.scopes());
    }
    String shared = publicOpsJson();
    List<Write> own = userId == null ? null : privateWrites.get(userId);
    if (own == null) {
      return shared;
    }
    StringBuilder sb = new StringBuilder(shared);
    for (Write w : own) {
      if (!sb.isEmpty()) {
        sb.append(',');
      }
      sb.append(json(op("private", w)));
    }
    return sb.toString();
  }

  private String scopedOpsJson(String userId, Scopes scopes) {
    StringBuilder sb = new StringBuilder();
    appendScoped(sb, "public", publicWrites, scopes);
    List<Write> own = userId == null ? null : privateWrites.get(userId);
    if (own != null) {
      appendScoped(sb, "private", own, scopes);
    }
    return sb.toString();
  }

  private void appendScoped(StringBuilder sb, String tier, List<Write> writes, Scopes scopes) {
    for (Write w : writes) {
      if (!scopes.coversTable(w.table())) {
        continue;
      }
      boolean visible = !w.isDelete() && scopes.covers(w.table(), w.value());
      if (!visible) {
        // a delete only for a row the client could see before: others' keys are not its business
        JsonNode before = previous.get(key(w));
        if (before == ABSENT || (before != null && !scopes.covers(w.table(), before))) {
          continue;
        }
      }
      if (!sb.isEmpty()) {
        sb.append(',');
      }
      sb.append(json(visible ? op(tier, w) : PatchOp.del(tier, w.table(), w.itemKey())));
    }
  }

  /** @return the last mutation id of each client of {@code clientGroupId} that this batch advanced */
  Map<String, Long> lastMutationIdChanges(String clientGroupId) {
    return lastMutationIds.getOrDefault(clientGroupId, Map.of());
  }

  private synchronized String publicOpsJson() {
    if (publicOpsJson == null) {
      StringBuilder sb = new StringBuilder();
      for (Write w : publicWrites) {
        if (!sb.isEmpty()) {
          sb.append(',');
        }
        sb.append(json(op("public", w)));
      }
      publicOpsJson = sb.toString();
    }
    return publicOpsJson;
  }

  private static PatchOp op(String tier, Write w) {
    return w.isDelete() ? PatchOp.del(tier, w.table(), w.itemKey()) : PatchOp.put(tier, w.table(), w.itemKey(), w.sortKey(), w.value());
  }

  static String json(Object value) {
    try {
      return Json.mapper().writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public String toString() {
    return "CommittedBatch[" + baseCookie + " -> " + cookie + ", " + changes.size() + " mutations, " + publicWrites.size() + " public writes]";
  }
}
