package io.syncedstore.api;

import java.util.Optional;

/**
 * What a {@link Mutator} sees: the tables of every tier, who is calling, and whether this run is
 * the authoritative one on the server.
 */
public interface MutationContext {
  /**
   * @return public table {@code name}. Never shows private rows, not even the caller's own.
   * @throws SyncException {@link ErrorCode#UNKNOWN_TABLE} when the app does not declare it
   */
  Table table(String name);

  /**
   * @param userId whose private tier; on the server a mutator may read any user's private
   *     tables but write only the caller's
   * @return the private tier of {@code userId}
   */
  TierTables privateOfUser(String userId);

  /** @return the server-only tier: empty on the client, where writes to it are dropped */
  TierTables serverOnly();

  /** @return the signed-in user who pushed this mutation, or empty for an anonymous client */
  Optional<String> userId();

  /**
   * @param userId a user
   * @return the user's row of {@link Membership#USERS} (also one of a removed user), if any; the
   *     same on the client, which syncs that table
   */
  default Optional<Membership.Member> member(String userId) {
    return table(Membership.USERS).get(userId, Membership.Member.class);
  }

  /**
   * @param permission a permission
   * @return whether the calling user is a member holding {@code permission} ({@link Membership});
   *     {@code false} for anonymous callers
   */
  default boolean hasPermission(String permission) {
    return userId().flatMap(this::member).filter(Membership.Member::active)
        .map(m -> m.permissions().contains(permission)).orElse(false);
  }

  /** @return the client that pushed this mutation */
  String clientId();

  /** @return the client's timestamp for the mutation, in epoch milliseconds (the same on every run) */
  long timestamp();

  /** @return {@code true} on the server's authoritative run, {@code false} on the client */
  boolean isServer();

  /**
   * Records an activity for its target users (server pass only; a no-op on the client): each
   * target's activity row ({@link Activity#TABLE} in their private tier, which only they sync)
   * gets the preview and, with {@code markUnread}, one more unread; a push request, if any, is
   * enqueued (durably, like {@link #enqueueAction}) for the server's notification sink. The caller
   * is neither counted nor pushed unless {@code includeCaller}.
   *
   * @param activity what happened and for whom
   */
  void notifyActivity(Activity activity);

  /**
   * Asks the server to run action {@code name} with {@code input} once this mutation is
   * committed, as the mutation's user. Durable: the request is part of the mutation's persisted
   * event and its completion is persisted too; after a crash every action whose completion was not
   * recorded runs again (at least once: give the action an idempotency key in its input). A
   * no-op on the client.
   *
   * @param name an action of the app
   * @param input its input (checked now: an unknown action or bad input fails the mutation)
   * @return the action's id (the same on the client's and the server's run)
   */
  String enqueueAction(String name, Object input);

  /**
   * Like {@link #enqueueAction}, run {@code delay} after the mutation is applied (by the server's
   * clock), also after restarts in between (at or after its time).
   *
   * @param delay how long to wait, {@code >= 0}
   * @param name an action of the app
   * @param input its input
   * @return the id to {@linkplain #cancelScheduledAction cancel} it with; store it in a row
   */
  String scheduleAction(java.time.Duration delay, String name, Object input);

  /**
   * Cancels a scheduled action that has not started; a no-op when it already ran, is running,
   * or the id is unknown. A no-op on the client.
   *
   * @param actionId what {@link #scheduleAction} returned
   */
  void cancelScheduledAction(String actionId);
}
