package io.syncedstore.gateway;

import com.typesafe.config.Config;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.auth.Principal;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Per-user quotas of this server process ({@code synced-store.quotas}, {@code docs/SECURITY.md},
 * "Quotas"): token buckets for messages and mutations per second and actions per minute, and
 * counts of open sync connections and of the instances they are connected to. A signed-in user
 * is one quota holder; anonymous users share the quota of their remote address, since anyone can
 * mint anonymous ids.
 *
 * <p>A refusal is a {@link Refused} exception: {@link ErrorCode#RATE_LIMITED} or
 * {@link ErrorCode#TOO_MANY_CONNECTIONS} with the time to wait. Buckets of holders that have been
 * idle long enough to be full again are dropped by {@link #sweep()}, so memory follows the number
 * of active holders, not the number ever seen.
 */
public final class Quotas {
  /**
   * A refusal with its retry-after.
   */
  public static final class Refused extends SyncException {
    private final long retryAfterMs;

    Refused(ErrorCode code, String message, long retryAfterMs) {
      super(code, message + "; retry after " + retryAfterMs + " ms");
      this.retryAfterMs = retryAfterMs;
    }

    /** @return how long to wait before trying again, in milliseconds */
    public long retryAfterMs() {
      return retryAfterMs;
    }
  }

  /**
   * The limits.
   *
   * @param messagesPerSecond sync messages per second per holder, over all its connections
   * @param mutationsPerSecond mutations per second per holder, socket and HTTP pushes together
   * @param actionsPerMinute action calls per minute per holder
   * @param burst how many seconds' worth of messages or mutations (a minute's worth of actions) may come at once
   * @param connections open sync connections per holder
   * @param instances distinct instances a holder's open connections may reach
   */
  public record Settings(int messagesPerSecond, int mutationsPerSecond, int actionsPerMinute, double burst,
      int connections, int instances) {
    /** @return the settings of {@code section} ({@code synced-store.quotas} or its {@code anonymous} part) */
    public static Settings fromConfig(Config section, double burst) {
      return new Settings(section.getInt("messages-per-second"), section.getInt("mutations-per-second"),
          section.getInt("actions-per-minute"), burst, section.getInt("connections"), section.getInt("instances"));
    }
  }

  /**
   * Settings that take the quotas out of the way, for tests and benchmarks that flood on purpose
   * (every benchmark client is anonymous on 127.0.0.1, one address).
   *
   * @param signedInToo whether signed-in users' quotas are lifted as well as anonymous callers'
   * @return setting path to value, to lay over a configuration
   */
  public static Map<String, Object> liftedSettings(boolean signedInToo) {
    Map<String, Object> settings = new java.util.LinkedHashMap<>();
    for (String prefix : signedInToo ? new String[] {"synced-store.quotas.", "synced-store.quotas.anonymous."}
        : new String[] {"synced-store.quotas.anonymous."}) {
      for (String key : new String[] {"messages-per-second", "mutations-per-second", "actions-per-minute", "connections", "instances"}) {
        settings.put(prefix + key, 1_000_000);
      }
    }
    return settings;
  }

  /** @return the quotas of {@code synced-store.quotas}: signed-in users', and anonymous callers' per address */
  public static Quotas fromConfig(Config quotas) {
    double burst = quotas.getDouble("burst");
    return new Quotas(Settings.fromConfig(quotas, burst), Settings.fromConfig(quotas.getConfig("anonymous"), burst));
  }

  private final Settings users;
  private final Settings addresses;
  private final Map<String, Bucket> messages = new ConcurrentHashMap<>();
  private final Map<String, Bucket> mutations = new ConcurrentHashMap<>();
  private final Map<String, Bucket> actions = new ConcurrentHashMap<>();
  /** Holder to instance to open connections to it. Guarded by {@code this}. */
  private final Map<String, Map<String, Integer>> open = new HashMap<>();

  /**
   * @param users the limits of each signed-in user
   * @param addresses the limits of each remote address, for anonymous callers
   */
  public Quotas(Settings users, Settings addresses) {
    this.users = users;
    this.addresses = addresses;
  }

  private Settings limits(String holder) {
    return holder.startsWith(ANONYMOUS) ? addresses : users;
  }

  private static final String ANONYMOUS = "anonymous@";

  /**
   * @param principal who acts
   * @param remoteAddress where the request comes from (for anonymous principals)
   * @return the key whose quota the request uses
   */
  public static String holder(Principal principal, String remoteAddress) {
    return principal.anonymous() || principal.userId() == null ? ANONYMOUS + remoteAddress : "user:" + principal.userId();
  }

  /** Takes one message of {@code holder}'s per-second budget, or throws {@link Refused}. */
  public void message(String holder) {
    Settings settings = limits(holder);
    take(messages, holder, 1, h -> bucket(settings, settings.messagesPerSecond(), Duration.ofSeconds(1)), "messages per second",
        settings, settings.messagesPerSecond());
  }

  /** Takes {@code count} mutations of {@code holder}'s per-second budget, or throws {@link Refused}. */
  public void mutations(String holder, int count) {
    Settings settings = limits(holder);
    take(mutations, holder, count, h -> bucket(settings, settings.mutationsPerSecond(), Duration.ofSeconds(1)), "mutations per second",
        settings, settings.mutationsPerSecond());
  }

  /** Takes one action call of {@code holder}'s per-minute budget, or throws {@link Refused}. */
  public void action(String holder) {
    Settings settings = limits(holder);
    take(actions, holder, 1, h -> bucket(settings, settings.actionsPerMinute(), Duration.ofMinutes(1)), "actions per minute",
        settings, settings.actionsPerMinute());
  }

  /**
   * Counts a new sync connection of {@code holder} to {@code instance}.
   *
   * @return what to call when the connection ends
   * @throws Refused {@code TOO_MANY_CONNECTIONS} when the holder has {@code connections-per-user}
   *     connections, or connections to {@code instances-per-user} other instances
   */
  public synchronized Runnable connect(String holder, String instance) {
    Settings settings = limits(holder);
    Map<String, Integer> byInstance = open.computeIfAbsent(holder, h -> new HashMap<>());
    int connections = byInstance.values().stream().mapToInt(Integer::intValue).sum();
    if (connections >= settings.connections()) {
      throw new Refused(ErrorCode.TOO_MANY_CONNECTIONS, "this user has " + connections
          + " open sync connections, the most synced-store.quotas allows", 1000);
    }
    if (!byInstance.containsKey(instance) && byInstance.size() >= settings.instances()) {
      throw new Refused(ErrorCode.TOO_MANY_CONNECTIONS, "this user is connected to " + byInstance.size()
          + " instances, the most synced-store.quotas allows", 1000);
    }
    byInstance.merge(instance, 1, Integer::sum);
    boolean[] released = new boolean[1];
    return () -> {
      synchronized (this) {
        if (released[0]) {
          return;
        }
        released[0] = true;
        Map<String, Integer> left = open.get(holder);
        if (left != null && left.merge(instance, -1, Integer::sum) <= 0) {
          left.remove(instance);
          if (left.isEmpty()) {
            open.remove(holder);
          }
        }
      }
    };
  }

  /** Drops the buckets of holders idle long enough to be full again. */
  public void sweep() {
    messages.entrySet().removeIf(e -> e.getValue().getAvailableTokens() >= capacityOf(limits(e.getKey()), limits(e.getKey()).messagesPerSecond()));
    mutations.entrySet().removeIf(e -> e.getValue().getAvailableTokens() >= capacityOf(limits(e.getKey()), limits(e.getKey()).mutationsPerSecond()));
    actions.entrySet().removeIf(e -> e.getValue().getAvailableTokens() >= capacityOf(limits(e.getKey()), limits(e.getKey()).actionsPerMinute()));
  }

  /** @return the number of holders with buckets, for tests and metrics */
  public int trackedHolders() {
    java.util.Set<String> all = new java.util.HashSet<>(messages.keySet());
    all.addAll(mutations.keySet());
    all.addAll(actions.keySet());
    return all.size();
  }

  private static long capacityOf(Settings settings, int rate) {
    return Math.max(1, Math.round(rate * settings.burst()));
  }

  private static Bucket bucket(Settings settings, int rate, Duration period) {
    return Bucket.builder()
        .addLimit(Bandwidth.builder().capacity(capacityOf(settings, rate)).refillGreedy(rate, period).build())
        .build();
  }

  private void take(Map<String, Bucket> buckets, String holder, int count, Function<String, Bucket> create, String what,
      Settings settings, int rate) {
    Bucket bucket = buckets.computeIfAbsent(holder, create);
    // A request larger than the whole bucket (a client's offline backlog in one push) costs the
    // whole bucket: it passes when the bucket is full, and empties it.
    ConsumptionProbe probe = bucket.tryConsumeAndReturnRemaining(Math.min(count, capacityOf(settings, rate)));
    if (!probe.isConsumed()) {
      long waitMs = Math.max(1, (probe.getNanosToWaitForRefill() + 999_999) / 1_000_000);
      throw new Refused(ErrorCode.RATE_LIMITED, "over the quota of " + rate + " " + what, waitMs);
    }
  }
}
