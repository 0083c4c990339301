package io.syncedstore.runtime;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.syncedstore.api.Json;
import io.syncedstore.api.Tier;
import io.syncedstore.api.protocol.PatchOp;
import io.syncedstore.api.store.Write;
import io.syncedstore.runtime.journal.InstanceEvent;
import io.syncedstore.runtime.journal.MutationApplied;
import io.syncedstore.runtime.journal.MutationFailed;
import java.io.UncheckedIOException;
import java.util.ArrayList;
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
  /** The last write to each entry, in the order of those last writes. */
  private final List<Write> writes;
  private String publicOpsJson;

  private CommittedBatch(String baseCookie, String cookie, List<Change> changes, List<Write> writes) {
    this.baseCookie = baseCookie;
    this.cookie = cookie;
    this.changes = changes;
    this.writes = writes;
  }

  /** @return the batch of {@code events}, persisted together, taking the instance from {@code baseCookie} to {@code cookie} */
  static CommittedBatch of(String baseCookie, String cookie, List<InstanceEvent> events) {
    List<Change> changes = new ArrayList<>(events.size());
    Map<List<Object>, Write> last = new LinkedHashMap<>();
    for (InstanceEvent event : events) {
      if (event instanceof MutationApplied e) {
        changes.add(new Change(e.clientGroupId(), e.clientId(), e.mutationId(), null));
        for (Write w : e.writes()) {
          if (w.tier() != Tier.SERVER_ONLY) {
            List<Object> key = java.util.Arrays.asList(w.tier(), w.owner(), w.table(), w.itemKey());
            last.remove(key);
            last.put(key, w);
          }
        }
      } else if (event instanceof MutationFailed e) {
        changes.add(new Change(e.clientGroupId(), e.clientId(), e.mutationId(), e));
      }
    }
    return new CommittedBatch(baseCookie, cookie, List.copyOf(changes), List.copyOf(last.values()));
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

  /** @return the comma-separated JSON of the patch ops {@code userId} may see: public entries and its own private ones */
  String opsJson(String userId) {
    String shared = publicOpsJson();
    StringBuilder own = null;
    if (userId != null) {
      for (Write w : writes) {
        if (w.tier() == Tier.PRIVATE && userId.equals(w.owner())) {
          own = own == null ? new StringBuilder() : own.append(',');
          own.append(json(op("private", w)));
        }
      }
    }
    if (own == null) {
      return shared;
    }
    return shared.isEmpty() ? own.toString() : shared + "," + own;
  }

  /** @return the last mutation id of each client of {@code clientGroupId} that this batch advanced */
  Map<String, Long> lastMutationIdChanges(String clientGroupId) {
    Map<String, Long> result = null;
    for (Change c : changes) {
      if (c.clientGroupId().equals(clientGroupId)) {
        result = result == null ? new LinkedHashMap<>() : result;
        result.put(c.clientId(), c.mutationId());
      }
    }
    return result == null ? Map.of() : result;
  }

  private synchronized String publicOpsJson() {
    if (publicOpsJson == null) {
      StringBuilder sb = new StringBuilder();
      for (Write w : writes) {
        if (w.tier() == Tier.PUBLIC) {
          if (!sb.isEmpty()) {
            sb.append(',');
          }
          sb.append(json(op("public", w)));
        }
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
    return "CommittedBatch[" + baseCookie + " -> " + cookie + ", " + changes.size() + " mutations, " + writes.size() + " writes]";
  }
}
