package io.syncedstore.api;

/**
 * Server-only work: may do I/O, reads the instance's state read-only, writes only through
 * {@link ActionContext#mutate}. Runs in a worker actor on a dispatcher for blocking I/O, with a
 * timeout; never on the client.
 *
 * @param <I> the input type
 * @param <O> the output type
 */
@FunctionalInterface
public interface Action<I, O> {
  /**
   * @param ctx reads, writes through mutators, the caller
   * @param input the validated input
   * @return the output, serialized to the caller
   * @throws Exception anything: the caller gets {@link ErrorCode#ACTION_FAILED} with its message,
   *     except a {@link SyncException}, which reaches the caller with its own code (so an action
   *     can refuse with, say, {@code UNAUTHORIZED}; an uncaught failure of {@code ctx.mutate}
   *     arrives as that mutation's code)
   */
  O run(ActionContext ctx, I input) throws Exception;
}
