package io.syncedstore.gateway;

import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.AppProvider;
import java.util.List;

/**
 * An app for {@link ActionKillTest}, found by the server process through {@link AppProvider} (the
 * test class path's {@code META-INF/services}): a mutation enqueues an action that prints when it
 * starts, sleeps {@code -Dkilltest.sleepMs} (so the first server can be killed while it runs) and
 * writes through a mutation.
 */
public final class KillTestApps implements AppProvider {
  /**
   * Input of {@code start}, {@code markDone} and the action {@code slowWork}.
   *
   * @param key which job
   */
  public record Job(String key) {}

  /** The app. */
  public static final AppDefinition APP = AppDefinition.builder("killtest").schemaVersion(1)
      .table("done", Long.class)
      .mutator("start", Job.class, (ctx, in) -> ctx.enqueueAction("slowWork", in))
      .mutator("markDone", Job.class, (ctx, in) -> {
        io.syncedstore.api.Table done = ctx.table("done");
        done.set(in.key(), done.get(in.key(), Long.class).orElse(0L) + 1);
      })
      .action("slowWork", Job.class, Void.class, (ctx, in) -> {
        System.out.println("KILLTEST started " + in.key());
        System.out.flush();
        Thread.sleep(Long.getLong("killtest.sleepMs", 0));
        ctx.mutate("markDone", in);
        System.out.println("KILLTEST finished " + in.key());
        return null;
      })
      .build();

  @Override
  public List<AppDefinition> apps() {
    return List.of(APP);
  }
}
