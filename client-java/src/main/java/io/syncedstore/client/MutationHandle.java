package io.syncedstore.client;

import java.util.concurrent.CompletableFuture;

/**
 * A mutation applied optimistically by {@link SyncClient#mutate}.
 *
 * @param id the client's mutation id (1, 2, 3...), the id the server confirms
 * @param name the mutator
 * @param confirmed completes when a poke confirms the id (the server applied the mutation and
 *     the client's confirmed state includes its writes), or exceptionally with a
 *     {@link io.syncedstore.api.SyncException} carrying the server's code and message when the
 *     mutation failed on the server
 */
public record MutationHandle(long id, String name, CompletableFuture<Void> confirmed) {}
