package io.syncedstore.runtime;

import io.syncedstore.api.auth.Principal;
import io.syncedstore.api.auth.Scopes;
import io.syncedstore.api.protocol.Cookie;
import io.syncedstore.api.protocol.PatchOp;
import io.syncedstore.api.store.EntryStore;
import io.syncedstore.api.store.Row;
import io.syncedstore.api.store.TableAddress;
import io.syncedstore.api.store.Write;
import io.syncedstore.api.Tier;
import io.syncedstore.runtime.journal.InstanceCreated;
import io.syncedstore.runtime.journal.InstanceEvent;
import io.syncedstore.runtime.journal.InstanceSnapshot;
import io.syncedstore.runtime.journal.MutationApplied;
import io.syncedstore.runtime.journal.MutationFailed;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The state of one instance: its entries, its version, and every client's last mutation id.
 *
 * <p>Deliberately mutable: copying a store of many entries on every event would make each write
 * cost O(entries). It is safe because one actor owns it, only {@link #apply} (called from the
 * event handler) changes it, and snapshots go through {@link #toSnapshot()}, which copies.
 */
public final class InstanceState {
  /**
   * One client's position.
   *
   * @param clientGroupId its group
   * @param userId the user that owns the client id, or {@code null}
   * @param lastMutationId the last processed mutation id
   * @param version the instance version at which that last changed
   */
  public record ClientRecord(String clientGroupId, String userId, long lastMutationId, long version) {}

  private final int maxTombstones;
  /**
   * Whether this is an {@code emptyState()} object. Pekko asks for the empty state once per
   * spawn and starts every recovery of that incarnation from the same object, including the
   * in-place restart after a failed journal write; so the first event applied to it goes to a
   * fresh copy, and a restart begins again from a truly empty state.
   */
  private final boolean pristine;
  private String epoch;
  private long version;
  private final EntryStore store;
  private final Map<String, ClientRecord> clients = new HashMap<>();
  private final Map<String, Map<String, ClientRecord>> groups = new HashMap<>();
  /** Per client, its last {@link #RECENT_FAILURES} failed mutations, oldest first. */
  private final Map<String, java.util.ArrayDeque<RecentFailure>> failures = new HashMap<>();

  /** Enqueued and scheduled actions whose completion is not recorded, in the order they were enqueued. */
  private final Map<String, OutstandingAction> actions = new LinkedHashMap<>();

  /**
   * An action a mutation enqueued or scheduled, not yet completed.
   *
   * @param id its id
   * @param name the action
   * @param input its input
   * @param userId the mutation's user, or {@code null}
   * @param runAt when to run it (0: at once)
   */
  public record OutstandingAction(String id, String name, com.fasterxml.jackson.databind.JsonNode input, String userId, long runAt) {}

  /** How many failed mutations are kept per client, to be told again to a client that reconnects. */
  public static final int RECENT_FAILURES = 100;

  /**
   * A failed mutation, kept so that a client that lost the notice with its connection hears of it
   * when it reconnects.
   *
   * @param mutationId the mutation
   * @param version the instance version of its {@code MutationFailed}
   * @param code the error code
   * @param message the error message
   */
  public record RecentFailure(long mutationId, long version, io.syncedstore.api.ErrorCode code, String message) {}

  /**
   * @param maxTombstones tombstones kept before pruning the oldest
   * @return an empty state that is never modified: applying an event to it returns a new state
   */
  public static InstanceState empty(int maxTombstones) {
    return new InstanceState(maxTombstones, true, null, 0, new EntryStore());
  }

  private InstanceState(int maxTombstones, boolean pristine, String epoch, long version, EntryStore store) {
    this.maxTombstones = maxTombstones;
    this.pristine = pristine;
    this.epoch = epoch;
    this.version = version;
    this.store = store;
  }

  /** @return the epoch, or {@code null} before the instance's first event */
  public String epoch() {
    return epoch;
  }

  /** @return the version: the number of events applied */
  public long version() {
    return version;
  }

  /** @return the entries; read-only for everyone but {@link #apply} */
  public EntryStore store() {
    return store;
  }

  /** @return {@code clientId}'s record, or {@code null} if it never pushed */
  public ClientRecord client(String clientId) {
    return clients.get(clientId);
  }

  /** @return the enqueued and scheduled actions not yet completed, in enqueue order (read-only) */
  public java.util.Collection<OutstandingAction> outstandingActions() {
    return java.util.Collections.unmodifiableCollection(actions.values());
  }

  /** @return whether action {@code actionId} is enqueued or scheduled and not yet completed or cancelled */
  public boolean isOutstanding(String actionId) {
    return actions.containsKey(actionId);
  }

  /** @return action {@code actionId} if it is enqueued or scheduled and not yet completed or cancelled, else {@code null} */
  public OutstandingAction outstanding(String actionId) {
    return actions.get(actionId);
  }

  /** @return whether a client of {@code clientGroupId} ever pushed */
  public boolean hasClientGroup(String clientGroupId) {
    return groups.containsKey(clientGroupId);
  }

  /** @return the current cookie */
  public Cookie cookie() {
    return new Cookie(epoch, version);
  }

  /**
   * Applies {@code event}. The only place state changes; no side effects.
   *
   * @return the state after the event: this object, or a new one when this is the empty state
   */
  public InstanceState apply(InstanceEvent event) {
    if (pristine) {
      return new InstanceState(maxTombstones, false, null, 0, new EntryStore()).apply(event);
    }
    if (event instanceof MutationApplied e) {
      version++;
      for (Write w : e.writes()) {
        store.apply(w, version);
      }
      putClient(e.clientId(), new ClientRecord(e.clientGroupId(), e.userId(), e.mutationId(), version));
      store.pruneTombstones(maxTombstones);
      List<io.syncedstore.api.exec.EnqueuedAction> enqueued = e.actions() == null ? List.of() : e.actions();
      for (int i = 0; i < enqueued.size(); i++) {
        var a = enqueued.get(i);
        String actionId = io.syncedstore.api.exec.EnqueuedAction.id(e.clientId(), e.mutationId(), i);
        actions.put(actionId, new OutstandingAction(actionId, a.name(), a.input(), e.userId(), a.runAt()));
      }
      if (e.cancelledActions() != null) {
        e.cancelledActions().forEach(actions::remove);
      }
    } else if (event instanceof MutationFailed e) {
      version++;
      putClient(e.clientId(), new ClientRecord(e.clientGroupId(), e.userId(), e.mutationId(), version));
      addFailure(e.clientId(), new RecentFailure(e.mutationId(), version, e.code(), e.message()));
    } else if (event instanceof InstanceCreated e) {
      epoch = e.epoch();
    } else if (event instanceof io.syncedstore.runtime.journal.ActionCompleted e) {
      actions.remove(e.actionId()); // not a change clients see: the version stays
    }
    return this;
  }

  private void addFailure(String clientId, RecentFailure failure) {
    java.util.ArrayDeque<RecentFailure> kept = failures.computeIfAbsent(clientId, c -> new java.util.ArrayDeque<>());
    kept.addLast(failure);
    if (kept.size() > RECENT_FAILURES) {
      kept.removeFirst();
    }
  }

  /**
   * @return {@code clientId}'s kept failures after {@code cookie} (all of them for a cookie that is
   *     absent or of another epoch), oldest first: those a client at {@code cookie} may not have heard of
   */
  public List<RecentFailure> failuresSince(String clientId, Cookie cookie) {
    long since = cookie == null || !cookie.epoch().equals(epoch) ? -1 : cookie.version();
    java.util.ArrayDeque<RecentFailure> kept = failures.get(clientId);
    return kept == null ? List.of() : kept.stream().filter(f -> f.version() > since).toList();
  }

  private void putClient(String clientId, ClientRecord record) {
    clients.put(clientId, record);
    groups.computeIfAbsent(record.clientGroupId(), g -> new HashMap<>()).put(clientId, record);
  }

  /**
   * The patch that brings a client of {@code principal} from {@code from} to the current version:
   * changed entries since {@code from}, or a {@code clear} and everything visible when
   * {@code from} is absent, from another epoch, in the future, or behind the tombstone horizon.
   * Public rows and the principal's own private rows only, never server-only rows, and for a scoped
   * principal only rows its scopes cover: a changed row of a covered table that its scopes no longer
   * cover is sent as a delete, since the client may hold it. (Which it is not known here: a client
   * that never saw the row learns its item key, never its value. Live pokes know the rows' previous
   * values and send such deletes only to clients that could see the row.)
   *
   * @param from the instance cookie the client holds ({@link #unwire}), or {@code null}
   * @return the patch, whose cookie is the principal's ({@link #wireCookie})
   */
  public Patch patchSince(Cookie from, String clientGroupId, Principal principal) {
    String userId = principal.userId();
    Scopes scopes = principal.scopes();
    boolean reset = from == null || !from.epoch().equals(epoch) || from.version() > version || from.version() < store.horizon();
    List<PatchOp> ops = new ArrayList<>();
    if (reset) {
      ops.add(PatchOp.CLEAR);
      store.forEachLive(c -> {
        String tier = visibleTier(c.table(), userId);
        if (tier != null && (scopes == null || scopes.covers(c.table().table(), c.row().value()))) {
          ops.add(put(tier, c.table(), c.row()));
        }
      });
    } else {
      store.forEachChangeSince(from.version(), c -> {
        String tier = visibleTier(c.table(), userId);
        if (tier == null || (scopes != null && !scopes.coversTable(c.table().table()))) {
          return;
        }
        Row row = c.row();
        boolean visible = !row.isDeleted() && (scopes == null || scopes.covers(c.table().table(), row.value()));
        ops.add(visible ? put(tier, c.table(), row) : PatchOp.del(tier, c.table().table(), row.itemKey()));
      });
    }
    Map<String, Long> lastMutationIdChanges = new LinkedHashMap<>();
    long since = reset ? -1 : from.version();
    groups.getOrDefault(clientGroupId, Map.of()).forEach((clientId, record) -> {
      if (record.version() > since) {
        lastMutationIdChanges.put(clientId, record.lastMutationId());
      }
    });
    return new Patch(Cookie.parse(wireCookie(cookie().toString(), principal)), reset, ops, lastMutationIdChanges);
  }

  /**
   * A client's cookie names the instance's epoch and version, and for a scoped principal also the
   * scopes it was computed under ({@code <epoch>~<scopes fingerprint>:<version>}): a client that
   * comes back with other scopes has an epoch that does not match, and gets its whole view again
   * (rows now out of scope disappear with the {@code clear}).
   *
   * @param raw an instance cookie, {@code <epoch>:<version>}
   * @return the cookie {@code principal}'s client holds for it
   */
  public static String wireCookie(String raw, Principal principal) {
    if (principal.scopes() == null) {
      return raw;
    }
    int colon = raw.lastIndexOf(':');
    return raw.substring(0, colon) + "~" + principal.scopes().fingerprint() + raw.substring(colon);
  }

  /**
   * @param wire a cookie a client of {@code principal} sent, or {@code null}
   * @return the instance cookie it stands for; {@code null} (a reset) when it was computed under
   *     other scopes, and a cookie of no epoch when it has a scope mark the principal does not
   */
  public static Cookie unwire(Cookie wire, Principal principal) {
    if (wire == null) {
      return null;
    }
    int mark = wire.epoch().lastIndexOf('~');
    if (principal.scopes() == null) {
      return mark < 0 ? wire : null;
    }
    if (mark < 0 || !wire.epoch().substring(mark + 1).equals(principal.scopes().fingerprint())) {
      return null;
    }
    return new Cookie(wire.epoch().substring(0, mark), wire.version());
  }

  private static PatchOp put(String tier, TableAddress table, Row row) {
    return PatchOp.put(tier, table.table(), row.itemKey(), row.sortKey(), row.value());
  }

  /** @return the wire tier of {@code table} if {@code userId} may see it, else {@code null} */
  static String visibleTier(TableAddress table, String userId) {
    if (table.tier() == Tier.PUBLIC) {
      return "public";
    }
    if (table.tier() == Tier.PRIVATE && table.owner().equals(userId)) {
      return "private";
    }
    return null;
  }

  /**
   * A patch and where it leads.
   *
   * @param cookie the cookie after the patch
   * @param reset whether the patch starts with {@code clear}
   * @param ops the operations
   * @param lastMutationIdChanges last mutation ids of the group's clients that changed
   */
  public record Patch(Cookie cookie, boolean reset, List<PatchOp> ops, Map<String, Long> lastMutationIdChanges) {}

  /** @return an immutable copy of this state for a snapshot */
  public InstanceSnapshot toSnapshot() {
    List<InstanceSnapshot.ClientSnapshot> cs = new ArrayList<>(clients.size());
    clients.forEach((id, r) -> cs.add(new InstanceSnapshot.ClientSnapshot(id, r.clientGroupId(), r.userId(), r.lastMutationId(), r.version())));
    List<InstanceSnapshot.FailureSnapshot> fs = new ArrayList<>();
    failures.forEach((id, kept) -> kept.forEach(f ->
        fs.add(new InstanceSnapshot.FailureSnapshot(id, f.mutationId(), f.version(), f.code(), f.message()))));
    List<InstanceSnapshot.ActionSnapshot> as = new ArrayList<>(actions.size());
    actions.values().forEach(a -> as.add(new InstanceSnapshot.ActionSnapshot(a.id(), a.name(), a.input().deepCopy(), a.userId(), a.runAt())));
    return new InstanceSnapshot(epoch, version, store.export(), List.copyOf(cs), List.copyOf(fs), List.copyOf(as));
  }

  /** @return the state {@code snapshot} describes */
  public static InstanceState fromSnapshot(InstanceSnapshot snapshot, int maxTombstones) {
    InstanceState state = new InstanceState(maxTombstones, false, snapshot.epoch(), snapshot.version(), EntryStore.restore(snapshot.store()));
    for (InstanceSnapshot.ClientSnapshot c : snapshot.clients()) {
      state.putClient(c.clientId(), new ClientRecord(c.clientGroupId(), c.userId(), c.lastMutationId(), c.version()));
    }
    if (snapshot.actions() != null) { // null in snapshots written before actions were kept
      for (InstanceSnapshot.ActionSnapshot a : snapshot.actions()) {
        state.actions.put(a.id(), new OutstandingAction(a.id(), a.name(), a.input(), a.userId(), a.runAt()));
      }
    }
    if (snapshot.failures() != null) { // null in snapshots written before failures were kept
      for (InstanceSnapshot.FailureSnapshot f : snapshot.failures()) {
        state.addFailure(f.clientId(), new RecentFailure(f.mutationId(), f.version(), f.code(), f.message()));
      }
    }
    return state;
  }
}
