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
   * @param actions actions to run after commit or later
   * @param cancelledActions ids of scheduled actions this mutation cancelled
   */
  record Applied(List<Write> writes, List<EnqueuedAction> actions, List<String> cancelledActions) implements MutationOutcome {
    /** An outcome that cancels nothing. */
    public Applied(List<Write> writes, List<EnqueuedAction> actions) {
      this(writes, actions, List.of());
    }
  }

  /**
   * The mutation failed; nothing it wrote applies.
   *
   * @param code why
   * @param message what went wrong, for the client
   */
  record Failed(ErrorCode code, String message) implements MutationOutcome {}
}
