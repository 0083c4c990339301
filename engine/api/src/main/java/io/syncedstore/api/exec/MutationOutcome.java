package io.syncedstore.api.exec;

import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.store.Write;
import java.util.List;

/** What running a mutation produced: a write set, or an error and no writes. */
public sealed interface MutationOutcome {
  /**
   * The mutator returned normally.
   *
   * @param writes one write per entry touched, in first-write order
   * @param actions actions to run after commit
   */
  record Applied(List<Write> writes, List<EnqueuedAction> actions) implements MutationOutcome {}

  /**
   * The mutation failed; nothing it wrote applies.
   *
   * @param code why
   * @param message what went wrong, for the client
   */
  record Failed(ErrorCode code, String message) implements MutationOutcome {}
}
