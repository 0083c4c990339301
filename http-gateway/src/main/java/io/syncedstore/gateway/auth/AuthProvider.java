package io.syncedstore.gateway.auth;

import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;
import java.util.Optional;

/**
 * Turns a request's bearer token into an {@link Authentication}. Chosen by
 * {@code synced-store.auth.provider} ({@link AuthProviders}, {@code docs/SECURITY.md}).
 * Implementations are thread-safe and never log tokens.
 */
public interface AuthProvider {
  /**
   * @param token the bearer token, or {@code null} when the request has none
   * @return who the caller is
   * @throws SyncException {@link ErrorCode#UNAUTHORIZED} when the token is refused; the message
   *     says why without repeating the token
   */
  Authentication authenticate(String token);

  /**
   * @param authorization the request's {@code Authorization} header; absent or blank is no token
   * @return who the caller is
   * @throws SyncException {@link ErrorCode#UNAUTHORIZED} when the header is not {@code Bearer <token>}
   *     or the token is refused
   */
  default Authentication authenticateHeader(Optional<String> authorization) {
    return authenticate(bearerToken(authorization));
  }

  /**
   * @return the token of an {@code Authorization: Bearer <token>} header, or {@code null} when the
   *     header is absent or blank
   * @throws SyncException {@link ErrorCode#UNAUTHORIZED} when the header has another scheme
   */
  static String bearerToken(Optional<String> authorization) {
    if (authorization.isEmpty() || authorization.get().isBlank()) {
      return null;
    }
    String value = authorization.get().trim();
    if (!value.regionMatches(true, 0, "Bearer ", 0, 7)) {
      throw new SyncException(ErrorCode.UNAUTHORIZED, "the Authorization header must be 'Bearer <token>'");
    }
    String token = value.substring(7).trim();
    return token.isEmpty() ? null : token;
  }
}
