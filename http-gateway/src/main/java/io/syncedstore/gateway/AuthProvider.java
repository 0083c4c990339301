package io.syncedstore.gateway;

import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;
import java.util.Optional;

/**
 * Turns a request's bearer token into a user id. Chosen by {@code synced-store.auth.provider}.
 */
public interface AuthProvider {
  /**
   * @param token the bearer token, or {@code null} when the request has none
   * @return the user id, or empty for an anonymous caller
   * @throws SyncException {@link ErrorCode#UNAUTHORIZED} when the token is refused
   */
  Optional<String> authenticate(String token);

  /**
   * @param authorization the request's {@code Authorization} header; absent or blank is anonymous
   * @return the user, or {@code null} for anonymous
   * @throws SyncException {@link ErrorCode#UNAUTHORIZED} when the header is not {@code Bearer <token>}
   *     or the token is refused
   */
  default String userOf(Optional<String> authorization) {
    String token = null;
    if (authorization.isPresent() && !authorization.get().isBlank()) {
      String value = authorization.get().trim();
      if (!value.regionMatches(true, 0, "Bearer ", 0, 7)) {
        throw new SyncException(ErrorCode.UNAUTHORIZED, "the Authorization header must be 'Bearer <token>'");
      }
      token = value.substring(7).trim();
    }
    return authenticate(token).orElse(null);
  }

  /** @return the provider named {@code name} in configuration */
  static AuthProvider named(String name) {
    return switch (name) {
      case "anonymous" -> token -> Optional.empty();
      case "dev" -> new DevAuthProvider();
      default -> throw new IllegalArgumentException("unknown synced-store.auth.provider '" + name + "' (anonymous | dev)");
    };
  }
}
