package io.syncedstore.client;

import io.syncedstore.api.SyncException;
import io.syncedstore.client.impl.SyncClientImpl;
import java.time.Duration;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A live local replica of one app instance: reads are local, mutations apply at once
 * (optimistically) and are confirmed by the server later. Create one with
 * {@link #connect(SyncOptions)}; it connects in the background and reconnects with backoff.
 *
 * <p>Callbacks (subscriptions, listeners, and the stages of {@link MutationHandle#confirmed()})
 * run on one dedicated callback thread, never on the socket's thread. Thread-safe.
 */
public interface SyncClient extends AutoCloseable {
  /**
   * Starts a client. Returns at once; use {@link #waitForBootstrap} to wait for the server's state.
   *
   * @param options how to connect
   * @return the client
   */
  static SyncClient connect(SyncOptions options) {
    return SyncClientImpl.start(options);
  }

  /** @return this client's group id */
  String clientGroupId();

  /** @return this client's id */
  String clientId();

  /**
   * Runs mutator {@code name} on the local view now and queues it for the server.
   *
   * @param name the mutator
   * @param input its input (a record, a map or a {@code JsonNode})
   * @return the pending mutation
   * @throws SyncException when the mutator is unknown, the input is invalid or the mutator threw
   *     locally, or {@code OVERLOADED} when {@link SyncOptions#maxPendingMutations()} mutations are
   *     pending; then nothing is pending
   */
  MutationHandle mutate(String name, Object input);

  /**
   * The typed form of {@link #mutate(String, Object)}: runs the one mutator of the app whose input
   * type is {@code input}'s class, e.g. {@code client.mutate(new SetTodo(id, "milk", Optional.empty(), now))}.
   *
   * @param input the mutator's input
   * @return the pending mutation
   * @throws SyncException {@code UNKNOWN_MUTATOR} when no mutator, or more than one, takes this
   *     type (then name it with {@link #mutate(String, Object)}); else as {@link #mutate(String, Object)}
   */
  MutationHandle mutate(Object input);

  /**
   * Calls server-only action {@code name}. The call is sent once every mutation this client made
   * before it is confirmed (or failed) by the server, so the action sees them; it is not sent
   * while offline, and waits for the connection. Actions are not retried: when the connection
   * drops while one runs, the future fails with {@code TIMEOUT} (it may or may not have run).
   *
   * @param name the action
   * @param input its input (a record, a map or a {@code JsonNode})
   * @return completes, on the callback thread, with the action's output (a {@code NullNode} for
   *     none) or fails with a {@link SyncException}: {@code UNKNOWN_ACTION}, {@code INVALID_INPUT},
   *     {@code OVERLOADED}, {@code ACTION_FAILED}, {@code ACTION_TIMEOUT}, {@code TIMEOUT}
   */
  java.util.concurrent.CompletableFuture<com.fasterxml.jackson.databind.JsonNode> action(String name, Object input);

  /**
   * Like {@link #action(String, Object)}, with the output mapped to {@code outputType}.
   *
   * @param name the action
   * @param input its input
   * @param outputType the action's output type
   * @return the output
   */
  <O> java.util.concurrent.CompletableFuture<O> action(String name, Object input, Class<O> outputType);

  /**
   * Reads the current local view (confirmed state plus pending mutations).
   *
   * @param query reads through the transaction; runs on the caller's thread under the client's lock
   * @return what {@code query} returned
   */
  <R> R query(Function<ReadTransaction, R> query);

  /**
   * Calls {@code onResult} with the result of {@code query} now, and again whenever the view
   * changes so that the result differs ({@link Object#equals}) from the last one delivered.
   *
   * @param query a read of the view; runs after every change, so keep it cheap
   * @param onResult receives results on the callback thread
   * @return the subscription; close it to stop
   */
  <R> Subscription subscribe(Function<ReadTransaction, R> query, Consumer<R> onResult);

  /**
   * Calls {@code listener} with the entries of public table {@code table} now (all reported as
   * added), and again after every change of the view that changes the table, with exactly the
   * entries added, modified and removed since the last call.
   *
   * @param table a table of the app
   * @param listener receives entries and changes on the callback thread
   * @return the subscription; close it to stop
   * @throws SyncException {@code UNKNOWN_TABLE} when the app has no such table
   */
  Subscription subscribeToTable(String table, TableListener listener);

  /**
   * Like {@link #subscribeToTable} for the signed-in user's private table {@code table} (empty
   * while the client is anonymous or has never connected).
   *
   * @param table a table of the app
   * @param listener receives entries and changes on the callback thread
   * @return the subscription; close it to stop
   */
  Subscription subscribeToPrivateTable(String table, TableListener listener);

  /**
   * @return this client's device-local sequences ({@code order-0001}...), persisted in its
   *     storage; see {@link Sequences} for formats, scopes and how to get global numbers
   */
  Sequences sequences();

  /**
   * @param timeout how long to wait
   * @return whether the first poke from the server (its full state) has been applied within {@code timeout}
   */
  boolean waitForBootstrap(Duration timeout);

  /** @return the number of mutations not yet confirmed or failed by the server */
  int pendingCount();

  /**
   * @return a new id for app data: sorts by creation time, unique across clients without
   *     coordination (see {@link UniqueIds}). Generate ids at the call site and pass them in the
   *     mutation's input, so that the optimistic and the server run write the same key.
   */
  String makeUniqueId();

  /** @return the connection's status */
  ConnectionStatus connectionStatus();

  /** @return whether the client is connected */
  default boolean isOnline() {
    return connectionStatus() == ConnectionStatus.ONLINE;
  }

  /**
   * Closes the socket and stops the client's threads. Pending mutations are abandoned: their
   * {@code confirmed()} futures fail.
   */
  @Override
  void close();
}
