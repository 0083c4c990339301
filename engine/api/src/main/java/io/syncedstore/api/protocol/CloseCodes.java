package io.syncedstore.api.protocol;

import io.syncedstore.api.ErrorCode;

/**
 * The WebSocket close codes of the sync protocol ({@code docs/PROTOCOL.md}, "Errors and close
 * codes"), in one place for the server that sends them and the client that acts on them.
 */
public final class CloseCodes {
  /** A binary message: the protocol is JSON text. */
  public static final int UNSUPPORTED_DATA = 1003;
  /** A message larger than the server's limit. */
  public static final int MESSAGE_TOO_BIG = 1009;
  /** A bug on the server. */
  public static final int INTERNAL_ERROR = 1011;
  /** The instance stopped or restarted, or the server is shutting down: reconnect with the cookie. */
  public static final int SERVICE_RESTART = 1012;

  /** The connection's token expired: the client gets a fresh token from its auth callback and reconnects. */
  public static final int TOKEN_EXPIRED = 4440;

  /** A quota was exceeded: reconnect after the error's {@code retryAfterMs}. */
  public static final int RATE_LIMITED = 4429;

  private CloseCodes() {}

  /** @return the close code of a connection refused or ended with {@code code} */
  public static int forError(ErrorCode code) {
    return switch (code) {
      case UNAUTHORIZED -> 4401;
      case TOKEN_EXPIRED -> TOKEN_EXPIRED;
      case RATE_LIMITED, TOO_MANY_CONNECTIONS -> RATE_LIMITED;
      case CLIENT_OWNED_BY_OTHER_USER, NOT_A_MEMBER -> 4403;
      case NOT_FOUND -> 4404;
      case PROTOCOL_VIOLATION -> 4405;
      case VERSION_NOT_SUPPORTED -> 4406;
      case SUPERSEDED -> 4409;
      case SCHEMA_VERSION_MISMATCH -> 4412;
      case OVERLOADED, TIMEOUT -> 1013;
      case INTERNAL -> INTERNAL_ERROR;
      default -> 4400;
    };
  }

  /**
   * @return whether a client closed with {@code code} must not reconnect: a new token, another
   *     client id or a newer client is needed (4401, 4403, 4406, 4412), or another live client uses
   *     its client id (4409)
   */
  public static boolean isFinal(int code) {
    return code == 4401 || code == 4403 || code == 4406 || code == 4409 || code == 4412;
  }
}
