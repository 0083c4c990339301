package io.syncedstore.api;

/**
 * An error with a stable {@link ErrorCode} and a message that names the problem. Thrown by table
 * operations inside a mutator (the mutation is then recorded as failed and writes nothing) and
 * returned by the engine for rejected requests.
 */
public class SyncException extends RuntimeException {
  private final ErrorCode code;

  /**
   * @param code the stable error code
   * @param message what went wrong, naming the field, key or limit involved
   */
  public SyncException(ErrorCode code, String message) {
    super(message);
    this.code = code;
  }

  /** @return the stable error code */
  public ErrorCode code() {
    return code;
  }
}
