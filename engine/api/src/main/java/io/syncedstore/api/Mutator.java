package io.syncedstore.api;

/**
 * A deterministic function that reads and writes tables. It runs optimistically on the client
 * (again on every rebase) and authoritatively on the server, so it must depend only on its
 * input and what it reads through {@code ctx}: no clock, randomness or I/O (use
 * {@link MutationContext#timestamp()} and actions for those).
 *
 * <p>Throwing fails the mutation: nothing it wrote is applied, and the client is told the message.
 *
 * @param <I> the input type
 */
@FunctionalInterface
public interface Mutator<I> {
  /**
   * @param ctx reads and writes of this mutation
   * @param input the validated input
   * @throws Exception to fail the mutation
   */
  void apply(MutationContext ctx, I input) throws Exception;
}
