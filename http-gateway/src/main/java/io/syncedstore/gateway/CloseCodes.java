package io.syncedstore.gateway;

import io.syncedstore.api.ErrorCode;

/** The WebSocket close codes of the sync protocol, one per reason ({@code docs/PROTOCOL.md}, "Close codes"). */
final class CloseCodes {
  private CloseCodes() {}

  /** @return the close code for a connection refused or ended with {@code code} */
  static int forError(ErrorCode code) {
    return switch (code) {
      case UNAUTHORIZED -> 4401;
      case CLIENT_OWNED_BY_OTHER_USER -> 4403;
      case NOT_FOUND -> 4404;
      case PROTOCOL_VIOLATION -> 4405;
      case VERSION_NOT_SUPPORTED -> 4406;
      case SUPERSEDED -> 4409;
      case SCHEMA_VERSION_MISMATCH -> 4412;
      case OVERLOADED, TIMEOUT -> 1013;
      case INTERNAL -> 1011;
      default -> 4400;
    };
  }
}
