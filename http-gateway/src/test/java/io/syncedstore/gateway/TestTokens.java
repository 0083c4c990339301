package io.syncedstore.gateway;

import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.auth.Principal;
import io.syncedstore.api.auth.Scopes;
import io.syncedstore.gateway.auth.AuthProvider;
import io.syncedstore.gateway.auth.Authentication;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.Set;

/**
 * A token validator for tests, used through the callback provider: {@code user:<id>} signs in,
 * {@code scoped:<id>:<base64url of the scopes JSON>} signs in with scopes, and
 * {@code expiring:<id>:<epoch millis>} signs in until then. Anything else is refused.
 */
public final class TestTokens implements AuthProvider {
  /** @return a token for {@code user} */
  static String user(String user) {
    return "user:" + user;
  }

  /** @return a token for {@code user} restricted to {@code scopesJson} */
  static String scoped(String user, String scopesJson) {
    return "scoped:" + user + ":" + Base64.getUrlEncoder().withoutPadding().encodeToString(scopesJson.getBytes(StandardCharsets.UTF_8));
  }

  /** @return a token for {@code user} that expires at {@code at} */
  static String expiring(String user, Instant at) {
    return "expiring:" + user + ":" + at.toEpochMilli();
  }

  @Override
  public Authentication authenticate(String token) {
    if (token == null) {
      throw new SyncException(ErrorCode.UNAUTHORIZED, "a token is required");
    }
    String[] parts = token.split(":", 3);
    try {
      return switch (parts[0]) {
        case "user" -> Authentication.of(Principal.user(parts[1]), null);
        case "scoped" -> Authentication.of(new Principal(parts[1], false,
            Scopes.fromJson(Json.mapper().readTree(Base64.getUrlDecoder().decode(parts[2]))), Set.of()), null);
        case "expiring" -> Authentication.of(Principal.user(parts[1]), Instant.ofEpochMilli(Long.parseLong(parts[2])));
        default -> throw new SyncException(ErrorCode.UNAUTHORIZED, "unknown test token");
      };
    } catch (java.io.IOException | RuntimeException e) {
      if (e instanceof SyncException s) {
        throw s;
      }
      throw new SyncException(ErrorCode.UNAUTHORIZED, "malformed test token");
    }
  }
}
