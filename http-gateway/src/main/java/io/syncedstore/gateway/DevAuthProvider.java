package io.syncedstore.gateway;

import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Development sign-in: the token {@code dev:<userId>} signs in as {@code userId}; no token is
 * anonymous. Anyone can claim any user, so it is off unless {@code synced-store.auth.provider = dev}.
 */
public final class DevAuthProvider implements AuthProvider {
  private static final Pattern USER = Pattern.compile("[A-Za-z0-9_.@-]{1,128}");

  @Override
  public Optional<String> authenticate(String token) {
    if (token == null || token.isEmpty()) {
      return Optional.empty();
    }
    if (!token.startsWith("dev:") || !USER.matcher(token.substring(4)).matches()) {
      throw new SyncException(ErrorCode.UNAUTHORIZED, "dev tokens look like dev:<userId> with userId matching " + USER.pattern());
    }
    return Optional.of(token.substring(4));
  }
}
