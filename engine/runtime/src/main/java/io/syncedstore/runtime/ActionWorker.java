package io.syncedstore.runtime;

import io.syncedstore.api.auth.Principal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import io.syncedstore.api.ActionDefinition;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.Values;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * Runs one action invocation: a child of its {@link AppInstance}. The action's code runs on a
 * thread of the actions' blocking pool ({@link ActionSettings#DISPATCHER}), never on the
 * instance's, while the worker actor itself stays on the default dispatcher; its result (or what it threw) goes back to the
 * instance as {@link AppInstance.ActionDone}, and the worker stops. The instance owns the timeout
 * and the caller's reply: when it stops a worker (timeout, instance stopping), the worker
 * interrupts the thread still running the action.
 */
final class ActionWorker {
  private ActionWorker() {}

  /** What a worker receives: only its own result, so nothing that ever leaves the node. */
  sealed interface Command extends LocalOnly {}

  private record Finished(JsonNode output, Throwable error) implements Command {}

  /**
   * Everything an invocation needs.
   *
   * @param invocationId the instance's number for it
   * @param instance the instance
   * @param app the app
   * @param instanceId the instance's id
   * @param action the action
   * @param input the converted input
   * @param caller who called: its user, and the scopes of {@code ctx.callerView()}
   * @param askTimeout bound on each read and each {@code ctx.mutate}
   */
  record Start(long invocationId, ActorRef<AppInstance.Command> instance, AppDefinition app, String instanceId,
      ActionDefinition<?, ?> action, Object input, Principal caller, Duration askTimeout) {
    String userId() {
      return caller.userId();
    }
  }

  static Behavior<Command> create(Start start) {
    return Behaviors.setup(context -> {
      Object lock = new Object();
      Thread[] runner = new Thread[1];
      boolean[] abandoned = new boolean[1];
      ActionContextImpl ctx = new ActionContextImpl(start, context.getSystem());
      // The worker itself runs on the default dispatcher, so that it can always stop (and interrupt
      // the action) even when every thread of the actions' pool is busy.
      Executor executor = context.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig(ActionSettings.DISPATCHER));
      CompletableFuture<JsonNode> result = CompletableFuture.supplyAsync(() -> {
        synchronized (lock) {
          if (abandoned[0]) {
            throw new CancellationException("abandoned before it started"); // the caller was already told
          }
          runner[0] = Thread.currentThread();
        }
        start.instance().tell(new AppInstance.ActionStarted(start.invocationId()));
        try {
          return run(start, ctx);
        } finally {
          synchronized (lock) {
            runner[0] = null;
            Thread.interrupted(); // an interrupt meant for this action must not reach the pool's next task
          }
        }
      }, executor);
      context.pipeToSelf(result, Finished::new);
      return Behaviors.receive(Command.class)
          .onMessage(Finished.class, f -> {
            start.instance().tell(new AppInstance.ActionDone(start.invocationId(), f.output(), failure(start, f.error())));
            return Behaviors.stopped();
          })
          .onSignal(PostStop.class, s -> {
            synchronized (lock) {
              abandoned[0] = true; // a task that has not started yet never will
              if (runner[0] != null) {
                runner[0].interrupt(); // abandoned (timeout or the instance stopping): let blocking I/O give up
              }
            }
            return Behaviors.same();
          })
          .build();
    });
  }

  @SuppressWarnings("unchecked")
  private static <I, O> JsonNode run(Start start, ActionContextImpl ctx) {
    ActionDefinition<I, O> def = (ActionDefinition<I, O>) start.action();
    O output;
    try {
      output = def.action().run(ctx, (I) start.input());
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new CompletionException(e);
    }
    if (output == null) {
      return NullNode.getInstance();
    }
    return Values.toJson(output, start.app().limits().maxJsonDepth(), "output of action " + def.name());
  }

  /** @return what the caller is told when the action threw, or {@code null} when it succeeded */
  private static SyncException failure(Start start, Throwable error) {
    if (error == null) {
      return null;
    }
    Throwable e = error;
    while (e instanceof CompletionException && e.getCause() != null) {
      e = e.getCause();
    }
    if (e instanceof SyncException s) {
      return s;
    }
    String message = e.getMessage() == null ? e.getClass().getName() : e.getMessage();
    return new SyncException(ErrorCode.ACTION_FAILED, start.action().name() + " failed: " + message);
  }
}
