package io.syncedstore.gateway.auth;

import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.auth.Principal;
import java.util.regex.Pattern;

/**
 * Development sign-in: the token {@code dev:<userId>} signs in as {@code userId}; no token is
 * anonymous. Anyone can claim any user, so it is off unless {@code synced-store.auth.provider = dev}.
 * User ids starting with {@value Authentication#ANONYMOUS_PREFIX} are reserved for anonymous users.
 */
public final class DevAuthProvider implements AuthProvider {
  private static final Pattern USER = Pattern.compile("[A-Za-z0-9_.@-]{1,128}");

  @Override
  public Authentication authenticate(String token) {
    if (token == null || token.isEmpty()) {
      return Authentication.ANONYMOUS;
    }
    if (!token.startsWith("dev:") || !USER.matcher(token.substring(4)).matches()) {
      throw new SyncException(ErrorCode.UNAUTHORIZED, "dev tokens look like dev:<userId> with userId matching " + USER.pattern());
    }
    if (token.startsWith(Authentication.ANONYMOUS_PREFIX, 4)) {
      throw new SyncException(ErrorCode.UNAUTHORIZED, "user ids starting with '" + Authentication.ANONYMOUS_PREFIX
          + "' are reserved for anonymous users");
    }
    return Authentication.of(Principal.user(token.substring(4)), null);
  }
}
