package io.syncedstore.api.exec;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.ActionDefinition;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.Entry;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Limits;
import io.syncedstore.api.Membership;
import io.syncedstore.api.MutationContext;
import io.syncedstore.api.ScanOptions;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.Table;
import io.syncedstore.api.TableDefinition;
import io.syncedstore.api.Tier;
import io.syncedstore.api.TierTables;
import io.syncedstore.api.Values;
import io.syncedstore.api.store.Overlay;
import io.syncedstore.api.store.Row;
import io.syncedstore.api.store.RowRef;
import io.syncedstore.api.store.Scans;
import io.syncedstore.api.store.TableAddress;
import io.syncedstore.api.store.Write;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** The {@link MutationContext} of one run: tables over an overlay, limits checked on every write. */
final class MutationContextImpl implements MutationContext {
  /** System tables that only the engine's own code writes. */
  private static final Set<String> SERVER_WRITTEN = Set.of(Membership.USERS, Membership.USER_INFO, Membership.INSTANCE);

  private final AppDefinition app;
  private final Overlay overlay;
  private final MutationInvocation invocation;
  private final boolean isServer;
  private final List<EnqueuedAction> actions = new ArrayList<>();
  private final List<String> cancelled = new ArrayList<>();
  private int actionCount;
  /** Server-only entries written on the client: dropped, but counted, so both sides enforce the same write limit. */
  private final Set<RowRef> droppedWrites = new HashSet<>();

  MutationContextImpl(AppDefinition app, Overlay overlay, MutationInvocation invocation, boolean isServer) {
    this.app = app;
    this.overlay = overlay;
    this.invocation = invocation;
    this.isServer = isServer;
  }

  List<EnqueuedAction> enqueuedActions() {
    return List.copyOf(actions);
  }

  @Override
  public Table table(String name) {
    return new TableImpl(definition(name), TableAddress.publicTable(name));
  }

  @Override
  public TierTables privateOfUser(String userId) {
    if (userId == null || userId.isEmpty()) {
      throw new SyncException(ErrorCode.TIER_VIOLATION, "privateOfUser needs a user id; this client is anonymous");
    }
    return name -> new TableImpl(definition(name), TableAddress.privateTable(userId, name));
  }

  @Override
  public TierTables serverOnly() {
    return name -> new TableImpl(definition(name), TableAddress.serverOnlyTable(name));
  }

  @Override
  public Optional<String> userId() {
    return Optional.ofNullable(invocation.userId());
  }

  @Override
  public String clientId() {
    return invocation.clientId();
  }

  @Override
  public long timestamp() {
    return invocation.timestamp();
  }

  @Override
  public boolean isServer() {
    return isServer;
  }

  @Override
  public void notifyActivity(io.syncedstore.api.Activity activity) {
    String caller = invocation.userId();
    List<String> recipients = activity.targetUserIds().stream().distinct()
        .filter(u -> activity.includeCaller() || !u.equals(caller)).toList();
    if (isServer) {
      // Other users' rows are the server's to write; the client shows them after the poke.
      for (String user : recipients) {
        TableImpl rows = new TableImpl(definition(io.syncedstore.api.Activity.TABLE),
            TableAddress.privateTable(user, io.syncedstore.api.Activity.TABLE), true);
        long unread = rows.get(io.syncedstore.api.Activity.KEY, io.syncedstore.api.Activity.State.class)
            .map(io.syncedstore.api.Activity.State::unreadCount).orElse(0L);
        rows.set(io.syncedstore.api.Activity.KEY, new io.syncedstore.api.Activity.State(activity.preview(),
            activity.previewTimestamp(), unread + (activity.markUnread() ? 1 : 0)));
      }
    }
    if (activity.push() != null && !recipients.isEmpty()) {
      // On both sides, so that the ids of the mutation's later actions agree (only the server enqueues it).
      addAction(io.syncedstore.api.Activity.NOTIFY_ACTION,
          new io.syncedstore.api.Activity.PushRequest(activity.push().title(), activity.push().body(), recipients), 0);
    }
  }

  @Override
  public String enqueueAction(String name, Object input) {
    return addAction(name, input, 0);
  }

  @Override
  public String scheduleAction(java.time.Duration delay, String name, Object input) {
    if (delay == null || delay.isNegative()) {
      throw new SyncException(ErrorCode.INVALID_INPUT, "scheduleAction needs a delay >= 0, got " + delay);
    }
    // The server's clock decides when it runs; the client's run only computes the same id.
    return addAction(name, input, isServer ? System.currentTimeMillis() + Math.max(1, delay.toMillis()) : 0);
  }

  @Override
  public void cancelScheduledAction(String actionId) {
    if (actionId == null || actionId.isEmpty()) {
      throw new SyncException(ErrorCode.INVALID_INPUT, "cancelScheduledAction needs an action id");
    }
    if (isServer) {
      cancelled.add(actionId);
    }
  }

  private String addAction(String name, Object input, long runAt) {
    String id = EnqueuedAction.id(invocation.clientId(), invocation.mutationId(), actionCount++);
    if (isServer) {
      ActionDefinition<?, ?> def = app.requireAction(name);
      JsonNode json = Values.toJson(input, app.limits().maxJsonDepth(), "input of action " + name);
      Values.convert(json, def.inputType(), "input of action " + name); // refused now, not when it runs
      actions.add(new EnqueuedAction(name, json, runAt));
    }
    return id;
  }

  List<String> cancelledActions() {
    return List.copyOf(cancelled);
  }

  private TableDefinition definition(String name) {
    return app.requireTable(name);
  }

  /** @return table {@code address} written as the engine itself: the membership mutators' own writes */
  Table systemTable(TableAddress address) {
    return new TableImpl(definition(address.table()), address, true);
  }

  private final class TableImpl implements Table {
    private final TableDefinition def;
    private final TableAddress address;
    /** Written by the engine itself (activity rows): any user's private tier. */
    private final boolean system;

    TableImpl(TableDefinition def, TableAddress address) {
      this(def, address, false);
    }

    TableImpl(TableDefinition def, TableAddress address, boolean system) {
      this.def = def;
      this.address = address;
      this.system = system;
    }

    /** The client never holds server-only rows, so it reads none (and drops its writes to them). */
    private boolean invisible() {
      return !isServer && address.tier() == Tier.SERVER_ONLY;
    }

    @Override
    public String name() {
      return def.name();
    }

    @Override
    public Optional<JsonNode> get(String itemKey) {
      Row row = invisible() ? null : overlay.get(address, itemKey);
      return row == null ? Optional.empty() : Optional.of(row.value().deepCopy());
    }

    @Override
    public <T> Optional<T> get(String itemKey, Class<T> type) {
      Row row = invisible() ? null : overlay.get(address, itemKey);
      return row == null ? Optional.empty()
          : Optional.of(Values.convert(row.value(), type, "value of " + def.name() + "/" + itemKey));
    }

    @Override
    public boolean has(String itemKey) {
      return !invisible() && overlay.get(address, itemKey) != null;
    }

    @Override
    public List<Entry> scan(ScanOptions options) {
      if (invisible()) {
        return List.of();
      }
      return Scans.scan(overlay, address, options).stream().map(Row::toEntry).toList();
    }

    @Override
    public void set(String itemKey, Object value) {
      set(itemKey, "", value);
    }

    @Override
    public void set(String itemKey, String sortKey, Object value) {
      checkWritable();
      Limits limits = app.limits();
      checkKey(itemKey, "item key", false, limits);
      checkKey(sortKey, "sort key", true, limits);
      String what = "value of " + def.name() + "/" + itemKey;
      Values.Encoded encoded = Values.encode(value, limits.maxJsonDepth(), what);
      JsonNode json = encoded.json();
      Class<?> type = def.valueTypeOf(itemKey);
      if (type != JsonNode.class && !type.isInstance(value)) {
        Values.convert(json, type, what, ErrorCode.INVALID_VALUE); // throws naming the field
      }
      if (encoded.size() > limits.maxValueBytes()) {
        throw new SyncException(ErrorCode.VALUE_TOO_LARGE,
            what + " is " + encoded.size() + " bytes, over the limit of " + limits.maxValueBytes());
      }
      record(Write.put(address, itemKey, sortKey, json), limits);
    }

    @Override
    public void delete(String itemKey) {
      checkWritable();
      checkKey(itemKey, "item key", false, app.limits());
      if (def.isSingleton()) {
        def.valueTypeOf(itemKey);
      }
      record(Write.delete(address, itemKey), app.limits());
    }

    private void record(Write write, Limits limits) {
      RowRef ref = new RowRef(address, write.itemKey());
      boolean newEntry = invisible() ? !droppedWrites.contains(ref) : !overlay.touches(address, write.itemKey());
      if (newEntry && overlay.writeCount() + droppedWrites.size() >= limits.maxWritesPerMutation()) {
        throw new SyncException(ErrorCode.TOO_MANY_WRITES,
            "mutation " + invocation.name() + " writes more than " + limits.maxWritesPerMutation() + " entries");
      }
      if (invisible()) {
        droppedWrites.add(ref);
      } else {
        overlay.write(write);
      }
    }

    private void checkWritable() {
      if (system) {
        return;
      }
      if (SERVER_WRITTEN.contains(address.table())) {
        throw new SyncException(ErrorCode.TIER_VIOLATION, "mutation " + invocation.name() + " may not write table '"
            + address.table() + "': only the server's membership API writes it");
      }
      if (address.tier() == Tier.PRIVATE && !address.owner().equals(invocation.userId())) {
        boolean hook = Membership.isMembershipMutator(invocation.name());
        throw new SyncException(hook ? ErrorCode.TAMPER : ErrorCode.TIER_VIOLATION,
            (hook ? "a membership hook of " : "mutation ") + invocation.name() + " may not write the private tier of another user ('"
                + address.owner() + "')");
      }
    }
  }

  private static void checkKey(String key, String what, boolean mayBeEmpty, Limits limits) {
    if (key == null || (!mayBeEmpty && key.isEmpty())) {
      throw new SyncException(ErrorCode.INVALID_KEY, what + " must not be " + (key == null ? "null" : "empty"));
    }
    if (key.length() > limits.maxKeyLength()) {
      throw new SyncException(ErrorCode.INVALID_KEY,
          what + " is " + key.length() + " chars, over the limit of " + limits.maxKeyLength());
    }
  }
}
