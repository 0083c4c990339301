package io.syncedstore.runtime;

import io.syncedstore.api.AppDefinition;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;
import org.apache.pekko.actor.typed.javadsl.AskPattern;

/**
 * How code inside the server (actions calling other instances) reaches any instance by id: the
 * apps served and a router. On one node the {@link InstanceRegistry} installs itself when it
 * starts; a cluster installs its sharding instead. An actor-system extension.
 */
public final class InstanceDirectory implements Extension {
  /** The extension's id. */
  public static final class Id extends ExtensionId<InstanceDirectory> {
    static final Id INSTANCE = new Id();

    @Override
    public InstanceDirectory createExtension(ActorSystem<?> system) {
      return new InstanceDirectory(system);
    }
  }

  private final ActorSystem<?> system;
  private volatile Map<String, AppDefinition> apps = Map.of();
  private volatile ActorRef<InstanceRegistry.Command> router;

  private InstanceDirectory(ActorSystem<?> system) {
    this.system = system;
  }

  /**
   * @param system the server's actor system
   * @return its directory
   */
  public static InstanceDirectory get(ActorSystem<?> system) {
    return Id.INSTANCE.apply(system);
  }

  /**
   * Installs the apps and the router that delivers to their instances.
   *
   * @param apps the apps served
   * @param router takes {@link InstanceRegistry.Deliver}
   */
  public void serve(Map<String, AppDefinition> apps, ActorRef<InstanceRegistry.Command> router) {
    this.apps = Map.copyOf(apps);
    this.router = router;
  }

  /** @return app {@code name}, if served */
  public Optional<AppDefinition> app(String name) {
    return Optional.ofNullable(apps.get(name));
  }

  /**
   * Sends instance {@code id} the command {@code command} builds around a reply address, and
   * returns the reply.
   *
   * @param id the instance (its app must be served)
   * @param command builds the command
   * @param timeout how long to wait
   * @return the reply
   */
  public <R> CompletionStage<R> ask(InstanceId id, Function<ActorRef<R>, AppInstance.Command> command, Duration timeout) {
    ActorRef<InstanceRegistry.Command> r = router;
    if (r == null) {
      throw new IllegalStateException("no instance router is installed on this actor system");
    }
    return AskPattern.<InstanceRegistry.Command, R>ask(r, replyTo -> new InstanceRegistry.Deliver(id, command.apply(replyTo)),
        timeout, system.scheduler());
  }
}
