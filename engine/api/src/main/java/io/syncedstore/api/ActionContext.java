package io.syncedstore.api;

import java.util.Optional;

/**
 * What an {@link Action} sees. Reads go to the instance's current state at the moment of each
 * read (there is no transaction across reads: a mutation may apply between two of them). Writes
 * happen only through {@link #mutate}, which the instance applies serially like any client's
 * mutation, so clients see them through their normal pokes.
 */
public interface ActionContext {
  /**
   * @param name a table of the app
   * @return the public table
   */
  ReadTable table(String name);

  /**
   * @param userId a user
   * @return that user's private tables (an action may read any user's)
   */
  ReadTier privateOfUser(String userId);

  /** @return the server-only tables */
  ReadTier serverOnly();

  /**
   * @return the tables as the caller sees them: its scopes and its own private tier
   *     ({@code docs/SECURITY.md}); for an action enqueued by a mutation, as that mutation's user
   *     sees them, without scopes
   */
  CallerView callerView();

  /** @return the user who called the action, empty for an anonymous caller or a system call */
  Optional<String> userId();

  /** @return the server's platform services ({@code env.get}, {@code http.fetch}, {@code blob.put}, {@code blob.get}) */
  Platform platform();

  /**
   * @param app the app of the other instance (this app's name for a sibling instance)
   * @param instanceId the other instance
   * @return that instance, for mutations and actions; calls to another app must be allowed by
   *     {@code synced-store.actions.external-calls} on the server
   */
  ExternalInstance external(String app, String instanceId);

  /** @return the app's name */
  String appName();

  /** @return the instance the action runs for */
  String instanceId();

  /**
   * Runs mutator {@code name} with {@code input} on the instance, as the calling user, and
   * returns once it is applied and persisted.
   *
   * @param name the mutator
   * @param input its input
   * @throws SyncException with the mutator's error when it failed (nothing was applied), or
   *     {@link ErrorCode#TIMEOUT} when the instance did not answer in time (it may have applied it)
   */
  void mutate(String name, Object input);
}
