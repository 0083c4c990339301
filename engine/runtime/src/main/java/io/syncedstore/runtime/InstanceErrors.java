package io.syncedstore.runtime;

import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.pattern.StatusReply;

/**
 * Errors travel from an instance to its callers as {@link StatusReply#error(String)} messages of
 * the form {@code "CODE: message"}: plain strings serialize across nodes, and the code survives.
 */
public final class InstanceErrors {
  private InstanceErrors() {}

  /** @return {@code e} as an error reply */
  public static <T> StatusReply<T> reply(SyncException e) {
    return StatusReply.error(e.code().name() + ": " + e.getMessage());
  }

  /** @return an error reply with {@code code} and {@code message} */
  public static <T> StatusReply<T> reply(ErrorCode code, String message) {
    return StatusReply.error(code.name() + ": " + message);
  }

  /**
   * Turns what an {@code askWithStatus} failed with back into a {@link SyncException}: an
   * instance's error keeps its code, a timeout becomes {@link ErrorCode#TIMEOUT}.
   */
  public static SyncException unwrap(Throwable t) {
    Throwable e = t;
    while (e instanceof CompletionException && e.getCause() != null) {
      e = e.getCause();
    }
    if (e instanceof SyncException s) {
      return s;
    }
    if (e instanceof StatusReply.ErrorMessage m) {
      String text = m.getMessage();
      int colon = text.indexOf(": ");
      if (colon > 0) {
        try {
          return new SyncException(ErrorCode.valueOf(text.substring(0, colon)), text.substring(colon + 2));
        } catch (IllegalArgumentException notACode) {
          // fall through
        }
      }
      return new SyncException(ErrorCode.BAD_REQUEST, text);
    }
    if (e instanceof TimeoutException) {
      return new SyncException(ErrorCode.TIMEOUT, "the instance did not answer in time; the request may or may not have been applied");
    }
    return new SyncException(ErrorCode.INTERNAL, "the instance failed to answer: " + e.getClass().getSimpleName());
  }
}
