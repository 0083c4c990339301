package io.syncedstore.api.protocol;

import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;

/**
 * A client's position in an instance's op log: the instance's epoch and the version it has seen.
 * On the wire it is the string {@code "<epoch>:<version>"}; clients treat it as opaque.
 *
 * @param epoch identifies one life of the instance's log; a cookie from another epoch gets a full reset
 * @param version the last version the client has seen
 */
public record Cookie(String epoch, long version) {
  /** @return the wire form */
  @Override
  public String toString() {
    return epoch + ":" + version;
  }

  /**
   * @param text the wire form, or {@code null}/empty for a client that has nothing yet
   * @return the cookie, or {@code null} when {@code text} is empty
   * @throws SyncException {@link ErrorCode#BAD_REQUEST} when malformed
   */
  public static Cookie parse(String text) {
    if (text == null || text.isEmpty()) {
      return null;
    }
    int colon = text.lastIndexOf(':');
    if (colon <= 0 || colon == text.length() - 1) {
      throw new SyncException(ErrorCode.BAD_REQUEST, "cookie '" + abbreviate(text) + "' is not of the form <epoch>:<version>");
    }
    long version;
    try {
      version = Long.parseLong(text.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new SyncException(ErrorCode.BAD_REQUEST, "cookie '" + abbreviate(text) + "' has no numeric version");
    }
    if (version < 0) {
      throw new SyncException(ErrorCode.BAD_REQUEST, "cookie '" + abbreviate(text) + "' has a negative version");
    }
    return new Cookie(text.substring(0, colon), version);
  }

  private static String abbreviate(String s) {
    return s.length() > 64 ? s.substring(0, 64) + "..." : s;
  }
}
