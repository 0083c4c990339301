package io.syncedstore.runtime;

import io.syncedstore.api.CallerView;
import io.syncedstore.api.auth.Principal;
import io.syncedstore.api.auth.Scopes;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.ActionContext;
import io.syncedstore.api.Entry;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.ReadTable;
import io.syncedstore.api.ReadTier;
import io.syncedstore.api.ScanOptions;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.Values;
import io.syncedstore.api.store.Row;
import io.syncedstore.api.store.Scans;
import io.syncedstore.api.store.TableAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;

/**
 * The {@link ActionContext} of one invocation. Runs on the worker's thread: every read and every
 * {@code mutate} is a message to the instance, answered from the instance's state on its own
 * thread (values copied there), so an action never touches the state concurrently.
 */
final class ActionContextImpl implements ActionContext {
  private final ActionWorker.Start start;
  private final ActorSystem<?> system;

  ActionContextImpl(ActionWorker.Start start, ActorSystem<?> system) {
    this.start = start;
    this.system = system;
  }

  @Override
  public ReadTable table(String name) {
    return new RemoteTable(checked(name), TableAddress.publicTable(name));
  }

  @Override
  public ReadTier privateOfUser(String userId) {
    if (userId == null || userId.isEmpty()) {
      throw new SyncException(ErrorCode.TIER_VIOLATION, "privateOfUser needs a user id");
    }
    return name -> new RemoteTable(checked(name), TableAddress.privateTable(userId, name));
  }

  @Override
  public ReadTier serverOnly() {
    return name -> new RemoteTable(checked(name), TableAddress.serverOnlyTable(name));
  }

  @Override
  public CallerView callerView() {
    Principal caller = start.caller();
    return new CallerView() {
      @Override
      public ReadTable table(String name) {
        return new RemoteTable(checked(name), TableAddress.publicTable(name), caller.scopes());
      }

      @Override
      public ReadTable privateTable(String name) {
        if (caller.userId() == null) {
          throw new SyncException(ErrorCode.TIER_VIOLATION, "the caller is anonymous and has no private tables");
        }
        return new RemoteTable(checked(name), TableAddress.privateTable(caller.userId(), name), caller.scopes());
      }
    };
  }

  @Override
  public Optional<String> userId() {
    return Optional.ofNullable(start.userId());
  }

  @Override
  public io.syncedstore.api.Platform platform() {
    return (service, input) -> {
      JsonNode json = input instanceof JsonNode node ? node.deepCopy()
          : Values.toJson(input, start.app().limits().maxJsonDepth(), "input of " + service);
      var s = io.syncedstore.runtime.platform.PlatformServices.get(system).service(service);
      try {
        JsonNode out = s.call(new io.syncedstore.api.PlatformService.Call(service, start.app().name(), start.instanceId(), start.userId(), json));
        return out == null ? com.fasterxml.jackson.databind.node.NullNode.getInstance() : out;
      } catch (SyncException e) {
        throw e;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new SyncException(ErrorCode.ACTION_TIMEOUT, service + " was interrupted: the action was abandoned");
      } catch (Exception e) {
        throw new SyncException(ErrorCode.SERVICE_FAILED, service + " failed: " + e);
      }
    };
  }

  @Override
  public io.syncedstore.api.ExternalInstance external(String appName, String otherInstance) {
    InstanceDirectory directory = InstanceDirectory.get(system);
    var target = directory.app(appName).orElseThrow(() -> new SyncException(ErrorCode.NOT_FOUND,
        "the server has no app '" + appName + "'"));
    InstanceId id = new InstanceId(appName, otherInstance);
    String caller = start.app().name();
    if (!caller.equals(appName) && !ExternalCalls.allowed(system.settings().config(), caller, appName)) {
      throw new SyncException(ErrorCode.CALL_NOT_ALLOWED, "app '" + appName + "' does not accept calls from app '" + caller
          + "'; list it in synced-store.actions.external-calls." + appName);
    }
    return new io.syncedstore.api.ExternalInstance() {
      @Override
      public void mutate(String name, Object input) {
        JsonNode args = Values.toJson(input, target.limits().maxJsonDepth(), "input of " + name);
        throwIfFailed(await(directory.<org.apache.pekko.pattern.StatusReply<AppInstance.PushResult>>ask(id,
            replyTo -> new AppInstance.ActionMutate(-1, start.userId(), name, args, replyTo), start.askTimeout())
            .thenApply(ActionContextImpl::valueOrThrow)));
      }

      @Override
      public JsonNode action(String name, Object input) {
        JsonNode args = Values.toJson(input, target.limits().maxJsonDepth(), "input of action " + name);
        // The other instance answers every call itself (its own timeout included); wait that long and a bit.
        Duration wait = start.askTimeout().plus(system.settings().config().getDuration("synced-store.actions.timeout")).multipliedBy(2);
        return await(directory.<org.apache.pekko.pattern.StatusReply<JsonNode>>ask(id,
            replyTo -> new AppInstance.RunAction(start.userId(), name, args, replyTo), wait)
            .thenApply(ActionContextImpl::valueOrThrow), wait);
      }
    };
  }

  private static <T> T valueOrThrow(org.apache.pekko.pattern.StatusReply<T> reply) {
    if (reply.isError()) {
      throw InstanceErrors.unwrap(reply.getError());
    }
    return reply.getValue();
  }

  @Override
  public String appName() {
    return start.app().name();
  }

  @Override
  public String instanceId() {
    return start.instanceId();
  }

  @Override
  public void mutate(String name, Object input) {
    JsonNode args = Values.toJson(input, start.app().limits().maxJsonDepth(), "input of " + name);
    throwIfFailed(await(AskPattern.<AppInstance.Command, org.apache.pekko.pattern.StatusReply<AppInstance.PushResult>>ask(
        start.instance(), replyTo -> new AppInstance.ActionMutate(start.invocationId(), start.userId(), name, args, replyTo),
        start.askTimeout(), system.scheduler()).thenApply(ActionContextImpl::valueOrThrow)));
  }

  /** The one mutation of an action's push failed on the instance: the action sees its error. */
  private static void throwIfFailed(AppInstance.PushResult result) {
    AppInstance.MutationResult r = result.results().get(0);
    if ("failed".equals(r.status())) {
      throw new SyncException(r.code(), r.message());
    }
  }

  private String checked(String name) {
    start.app().requireTable(name);
    return name;
  }

  /** Runs {@code read} on the instance's thread, against its current state. */
  @SuppressWarnings("unchecked")
  private <R> R read(Function<InstanceState, R> read) {
    Object result = await(AskPattern.<AppInstance.Command, Object>ask(start.instance(),
        replyTo -> new AppInstance.ActionRead((Function<InstanceState, Object>) read, replyTo), start.askTimeout(),
        system.scheduler()));
    if (result instanceof RuntimeException e) {
      throw e; // thrown by the read on the instance's thread
    }
    return (R) result;
  }

  private <R> R await(java.util.concurrent.CompletionStage<R> stage) {
    return await(stage, start.askTimeout());
  }

  private <R> R await(java.util.concurrent.CompletionStage<R> stage, Duration timeout) {
    try {
      return stage.toCompletableFuture().get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SyncException(ErrorCode.ACTION_TIMEOUT, "action " + start.action().name() + " was abandoned");
    } catch (ExecutionException e) {
      throw InstanceErrors.unwrap(e.getCause());
    } catch (TimeoutException e) {
      throw InstanceErrors.unwrap(e);
    }
  }

  private final class RemoteTable implements ReadTable {
    private final String name;
    private final TableAddress address;
    /** The caller's scopes for {@link #callerView()}, else {@code null}: every row. */
    private final Scopes scopes;

    RemoteTable(String name, TableAddress address) {
      this(name, address, null);
    }

    RemoteTable(String name, TableAddress address, Scopes scopes) {
      this.name = name;
      this.address = address;
      this.scopes = scopes;
    }

    private boolean visible(Row row) {
      return row != null && (scopes == null || scopes.covers(name, row.value()));
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public Optional<JsonNode> get(String itemKey) {
      return read(s -> {
        Row row = s.store().get(address, itemKey);
        return !visible(row) ? Optional.<JsonNode>empty() : Optional.of(row.value().deepCopy());
      });
    }

    @Override
    public <T> Optional<T> get(String itemKey, Class<T> type) {
      return get(itemKey).map(v -> Values.convert(v, type, "value of " + name + "/" + itemKey, ErrorCode.INVALID_VALUE));
    }

    @Override
    public boolean has(String itemKey) {
      return read(s -> visible(s.store().get(address, itemKey)));
    }

    @Override
    public List<Entry> scan(ScanOptions options) {
      if (scopes == null) {
        return read(s -> Scans.scan(s.store(), address, options).stream().map(Row::toEntry).toList());
      }
      // the limit counts visible rows: filter the whole range, then cut
      return read(s -> Scans.scan(s.store(), address, options.limit(Integer.MAX_VALUE)).stream().filter(this::visible)
          .limit(options.limit() < 0 ? Long.MAX_VALUE : options.limit()).map(Row::toEntry).toList());
    }
  }
}
