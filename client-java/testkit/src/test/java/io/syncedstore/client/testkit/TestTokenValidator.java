package io.syncedstore.client.testkit;

import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.auth.Principal;
import io.syncedstore.gateway.auth.AuthProvider;
import io.syncedstore.gateway.auth.Authentication;
import java.time.Instant;

/**
 * The app's token validator in {@link ClientAuthTest}, loaded by the server through
 * {@code synced-store.auth.provider = callback}: a token {@code test:<user>:<expires at, epoch ms>}
 * is user {@code <user>} until then; {@code test:<user>:never} never expires; anything else is
 * refused with {@code UNAUTHORIZED}.
 */
public final class TestTokenValidator implements AuthProvider {
  private static final String PREFIX = "test:";

  /** The server constructs it by reflection. */
  public TestTokenValidator() {}

  /**
   * @param userId the user
   * @param expiresAt when the token expires
   * @return a token this validator accepts until {@code expiresAt}
   */
  static String token(String userId, Instant expiresAt) {
    return PREFIX + userId + ":" + expiresAt.toEpochMilli();
  }

  /**
   * @param userId the user
   * @return a token this validator accepts forever
   */
  static String token(String userId) {
    return PREFIX + userId + ":never";
  }

  @Override
  public Authentication authenticate(String token) {
    if (token == null || !token.startsWith(PREFIX)) {
      throw new SyncException(ErrorCode.UNAUTHORIZED, "not a token of the test validator");
    }
    String rest = token.substring(PREFIX.length());
    int colon = rest.lastIndexOf(':');
    if (colon <= 0) {
      throw new SyncException(ErrorCode.UNAUTHORIZED, "malformed test token");
    }
    String userId = rest.substring(0, colon);
    String expiry = rest.substring(colon + 1);
    Instant expiresAt;
    if ("never".equals(expiry)) {
      expiresAt = null;
    } else {
      try {
        expiresAt = Instant.ofEpochMilli(Long.parseLong(expiry));
      } catch (NumberFormatException e) {
        throw new SyncException(ErrorCode.UNAUTHORIZED, "malformed test token expiry");
      }
    }
    return Authentication.of(Principal.user(userId), expiresAt);
  }
}
