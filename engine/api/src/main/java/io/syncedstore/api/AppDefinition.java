package io.syncedstore.api;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * An app: its name, schema version, tables, mutators and actions. The same definition runs on the server
 * and in the Java client. Immutable once built.
 *
 * <pre>{@code
 * AppDefinition todo = AppDefinition.builder("todo").schemaVersion(1)
 *     .table("todos", Todo.class)
 *     .singletonTable("settings", item("theme", Theme.class), item("pageSize", Integer.class))
 *     .mutator("setTodo", SetTodo.class, (ctx, in) -> ctx.table("todos").set(in.id(), ...))
 *     .mutator("removeTodo", RemoveTodo.class, (ctx, in) -> ctx.table("todos").delete(in.id()))
 *     .build();
 * }</pre>
 */
public final class AppDefinition {
  private static final Pattern NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_-]{0,63}");

  private final String name;
  private final int schemaVersion;
  private final Map<String, TableDefinition> tables;
  private final Map<String, MutatorDefinition<?>> mutators;
  private final Map<String, ActionDefinition<?, ?>> actions;
  private final Limits limits;
  private final Membership.Hooks hooks;
  private final boolean membersOnly;

  private AppDefinition(Builder b, Limits limits) {
    this.hooks = new Membership.Hooks(b.onAddUser, b.onRemoveUser, b.onGrantPermission, b.onRevokePermission);
    this.membersOnly = b.membersOnly;
    this.name = b.name;
    this.schemaVersion = b.schemaVersion;
    this.tables = Collections.unmodifiableMap(new LinkedHashMap<>(b.tables));
    this.mutators = Collections.unmodifiableMap(new LinkedHashMap<>(b.mutators));
    this.actions = Collections.unmodifiableMap(new LinkedHashMap<>(b.actions));
    this.limits = limits;
  }

  /**
   * Every app also has the activity system table ({@link Activity#TABLE}, readable by each user in
   * their private tier, written by {@code notifyActivity}), the mutator {@link Activity#MARK_READ}
   * and the action {@link Activity#NOTIFY_ACTION}. Their names start with {@code $}, which app
   * names cannot; {@link #table}, {@link #mutator} and {@link #action} find them, while
   * {@link #tables}, {@link #mutators} and {@link #actions} list the app's own.
   */
  private static final Map<String, TableDefinition> SYSTEM_TABLES = Map.of(
      Activity.TABLE, new TableDefinition(Activity.TABLE, Activity.State.class, Map.of()),
      Membership.USERS, new TableDefinition(Membership.USERS, Membership.Member.class, Map.of()),
      Membership.USER_INFO, new TableDefinition(Membership.USER_INFO, Membership.UserInfo.class, Map.of()),
      Membership.INSTANCE, new TableDefinition(Membership.INSTANCE, Membership.Access.class, Map.of()));
  private static final Map<String, MutatorDefinition<?>> SYSTEM_MUTATORS = Map.of(Activity.MARK_READ,
      new MutatorDefinition<>(Activity.MARK_READ, com.fasterxml.jackson.databind.JsonNode.class, (ctx, in) -> {
        String user = ctx.userId().orElseThrow(() -> new SyncException(ErrorCode.TIER_VIOLATION, "anonymous clients have no activity"));
        Table activity = ctx.privateOfUser(user).table(Activity.TABLE);
        activity.get(Activity.KEY, Activity.State.class).ifPresent(a ->
            activity.set(Activity.KEY, new Activity.State(a.preview(), a.previewTimestamp(), 0)));
      }));
  private static final Map<String, ActionDefinition<?, ?>> SYSTEM_ACTIONS = Map.of(Activity.NOTIFY_ACTION,
      new ActionDefinition<>(Activity.NOTIFY_ACTION, Activity.PushRequest.class, Void.class, (ctx, in) -> {
        ctx.platform().call("notify.push", new java.util.LinkedHashMap<>(Map.of("title", in.title(), "body", in.body(),
            "recipients", in.recipients(), "app", ctx.appName(), "instanceId", ctx.instanceId())));
        return null;
      }));

  /** @return a builder for an app called {@code name} (letters, digits, {@code _}, {@code -}; starts with a letter) */
  public static Builder builder(String name) {
    return new Builder(checkName(name, "app"));
  }

  /** @return a singleton-table item: fixed key {@code key} holding values of {@code type} */
  public static <T> SingletonItem<T> item(String key, Class<T> type) {
    return new SingletonItem<>(Objects.requireNonNull(key, "key"), Objects.requireNonNull(type, "type"));
  }

  /** @return the app name */
  public String name() {
    return name;
  }

  /** @return the schema version clients must match */
  public int schemaVersion() {
    return schemaVersion;
  }

  /** @return the tables by name, in declaration order */
  public Map<String, TableDefinition> tables() {
    return tables;
  }

  /** @return table {@code name}, if declared */
  public Optional<TableDefinition> table(String name) {
    TableDefinition t = tables.get(name);
    return Optional.ofNullable(t != null ? t : SYSTEM_TABLES.get(name));
  }

  /** @return the mutators by name, in declaration order */
  public Map<String, MutatorDefinition<?>> mutators() {
    return mutators;
  }

  /** @return mutator {@code name}, if declared */
  public Optional<MutatorDefinition<?>> mutator(String name) {
    MutatorDefinition<?> m = mutators.get(name);
    return Optional.ofNullable(m != null ? m : SYSTEM_MUTATORS.get(name));
  }

  /**
   * @param name a table name
   * @return its definition (an app's own or a system table)
   * @throws SyncException {@link ErrorCode#UNKNOWN_TABLE} naming the app and the table
   */
  public TableDefinition requireTable(String name) {
    return table(name).orElseThrow(() -> new SyncException(ErrorCode.UNKNOWN_TABLE,
        "app '" + this.name + "' has no table '" + name + "'"));
  }

  /**
   * @param name an action name
   * @return its definition (an app's own or a built-in action)
   * @throws SyncException {@link ErrorCode#UNKNOWN_ACTION} naming the app and the action
   */
  public ActionDefinition<?, ?> requireAction(String name) {
    return action(name).orElseThrow(() -> new SyncException(ErrorCode.UNKNOWN_ACTION,
        "app '" + this.name + "' has no action '" + name + "'"));
  }

  /** @return the actions by name, in declaration order */
  public Map<String, ActionDefinition<?, ?>> actions() {
    return actions;
  }

  /** @return action {@code name}, if declared */
  public Optional<ActionDefinition<?, ?>> action(String name) {
    ActionDefinition<?, ?> a = actions.get(name);
    return Optional.ofNullable(a != null ? a : SYSTEM_ACTIONS.get(name));
  }

  /** @return the app's membership hooks ({@link Membership.Hooks}) */
  public Membership.Hooks hooks() {
    return hooks;
  }

  /**
   * @return whether instances are members-only unless their own access setting
   *     ({@link Membership#SET_ACCESS}) says otherwise
   */
  public boolean membersOnlyByDefault() {
    return membersOnly;
  }

  /** @return the limits enforced on this app's mutations */
  public Limits limits() {
    return limits;
  }

  /** @return this app with other limits (a server's configuration may override an app's) */
  public AppDefinition withLimits(Limits limits) {
    return new AppDefinition(toBuilder(), Objects.requireNonNull(limits));
  }

  private Builder toBuilder() {
    Builder b = new Builder(name).schemaVersion(schemaVersion);
    b.tables.putAll(tables);
    b.mutators.putAll(mutators);
    b.actions.putAll(actions);
    return b;
  }

  @Override
  public String toString() {
    return "AppDefinition[" + name + " v" + schemaVersion + ", tables=" + tables.keySet() + ", mutators=" + mutators.keySet() + "]";
  }

  private static String checkName(String name, String what) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(what + " name must match " + NAME.pattern() + ", got " + name);
    }
    return name;
  }

  /** Builds an {@link AppDefinition}; every method checks its arguments at once. */
  public static final class Builder {
    private final String name;
    private int schemaVersion = 1;
    private final Map<String, TableDefinition> tables = new LinkedHashMap<>();
    private final Map<String, MutatorDefinition<?>> mutators = new LinkedHashMap<>();
    private final Map<String, ActionDefinition<?, ?>> actions = new LinkedHashMap<>();
    private Limits limits = Limits.DEFAULT;
    private Membership.UserHook onAddUser;
    private Membership.UserHook onRemoveUser;
    private Membership.PermissionHook onGrantPermission;
    private Membership.PermissionHook onRevokePermission;
    private boolean membersOnly;

    private Builder(String name) {
      this.name = name;
    }

    /** @param hook runs in the system mutation that adds a user ({@link Membership.Hooks}) */
    public Builder onAddUser(Membership.UserHook hook) {
      this.onAddUser = Objects.requireNonNull(hook, "hook");
      return this;
    }

    /** @param hook runs in the system mutation that removes a user ({@link Membership.Hooks}) */
    public Builder onRemoveUser(Membership.UserHook hook) {
      this.onRemoveUser = Objects.requireNonNull(hook, "hook");
      return this;
    }

    /** @param hook runs in the system mutation that grants a permission ({@link Membership.Hooks}) */
    public Builder onGrantPermission(Membership.PermissionHook hook) {
      this.onGrantPermission = Objects.requireNonNull(hook, "hook");
      return this;
    }

    /** @param hook runs in the system mutation that revokes a permission ({@link Membership.Hooks}) */
    public Builder onRevokePermission(Membership.PermissionHook hook) {
      this.onRevokePermission = Objects.requireNonNull(hook, "hook");
      return this;
    }

    /**
     * @param membersOnly whether the app's instances admit only members by default (an instance's
     *     own setting, {@link Membership#SET_ACCESS}, overrides it); default {@code false}: open
     */
    public Builder membersOnly(boolean membersOnly) {
      this.membersOnly = membersOnly;
      return this;
    }

    /** @param version the schema version, {@code >= 1}; clients with another version are refused */
    public Builder schemaVersion(int version) {
      if (version < 1) {
        throw new IllegalArgumentException("schemaVersion must be >= 1, got " + version);
      }
      this.schemaVersion = version;
      return this;
    }

    /** Declares a table with dynamic item keys whose values are {@code valueType} (a record, or {@code JsonNode} for any JSON). */
    public Builder table(String name, Class<?> valueType) {
      return addTable(new TableDefinition(checkName(name, "table"), Objects.requireNonNull(valueType, "valueType"), Map.of()));
    }

    /** Declares a table with exactly the keys of {@code items}, each with its own value type. */
    public Builder singletonTable(String name, SingletonItem<?>... items) {
      if (items.length == 0) {
        throw new IllegalArgumentException("singleton table " + name + " needs at least one item");
      }
      Map<String, Class<?>> byKey = new LinkedHashMap<>();
      for (SingletonItem<?> item : items) {
        if (byKey.put(item.key(), item.type()) != null) {
          throw new IllegalArgumentException("singleton table " + name + " declares item " + item.key() + " twice");
        }
      }
      return addTable(new TableDefinition(checkName(name, "table"), null, Collections.unmodifiableMap(byKey)));
    }

    private Builder addTable(TableDefinition table) {
      if (tables.putIfAbsent(table.name(), table) != null) {
        throw new IllegalArgumentException("table " + table.name() + " is declared twice");
      }
      return this;
    }

    /** Declares mutator {@code name} taking input of {@code inputType} (a record, or {@code JsonNode}). */
    public <I> Builder mutator(String name, Class<I> inputType, Mutator<I> mutator) {
      MutatorDefinition<I> def = new MutatorDefinition<>(checkName(name, "mutator"),
          Objects.requireNonNull(inputType, "inputType"), Objects.requireNonNull(mutator, "mutator"));
      if (mutators.putIfAbsent(name, def) != null) {
        throw new IllegalArgumentException("mutator " + name + " is declared twice");
      }
      return this;
    }

    /**
     * Declares action {@code name}: server-only code that may do I/O, called by clients
     * ({@code client.action(name, input)}) or enqueued by mutators.
     *
     * @param name the action's name
     * @param inputType its input type (a record, or {@code JsonNode}); validated like mutator input
     * @param outputType its output type, serialized to the caller
     * @param action the code
     * @return this builder
     */
    public <I, O> Builder action(String name, Class<I> inputType, Class<O> outputType, Action<I, O> action) {
      ActionDefinition<I, O> def = new ActionDefinition<>(checkName(name, "action"), Objects.requireNonNull(inputType, "inputType"),
          Objects.requireNonNull(outputType, "outputType"), Objects.requireNonNull(action, "action"));
      if (actions.putIfAbsent(name, def) != null) {
        throw new IllegalArgumentException("action " + name + " is declared twice");
      }
      return this;
    }

    /** Sets the limits for this app (default {@link Limits#DEFAULT}). */
    public Builder limits(Limits limits) {
      this.limits = Objects.requireNonNull(limits, "limits");
      return this;
    }

    /** @return the definition */
    public AppDefinition build() {
      return new AppDefinition(this, limits);
    }
  }
}
