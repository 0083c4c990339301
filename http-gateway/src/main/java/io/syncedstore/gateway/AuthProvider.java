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

  /** @return the provider named {@code name} in configuration */
  static AuthProvider named(String name) {
    return switch (name) {
      case "anonymous" -> token -> Optional.empty();
      case "dev" -> new DevAuthProvider();
      default -> throw new IllegalArgumentException("unknown synced-store.auth.provider '" + name + "' (anonymous | dev)");
    };
  }
}
