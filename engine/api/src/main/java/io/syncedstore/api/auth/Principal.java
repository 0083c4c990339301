package io.syncedstore.api.auth;

import java.util.Set;

/**
 * Who a request or connection acts for, as the gateway's auth provider established it
 * ({@code docs/SECURITY.md}).
 *
 * @param userId the user; {@code null} only for the anonymous principal of the {@code anonymous}
 *     provider, which has no private tier. Anonymous users of the {@code mixed} provider have ids.
 * @param anonymous whether the principal did not sign in
 * @param scopes the sync scopes that restrict what it sees and writes, or {@code null} for none
 * @param permissions permissions the token grants, in addition to those of the user's membership
 */
public record Principal(String userId, boolean anonymous, Scopes scopes, Set<String> permissions) {
  /** The principal of a request without a token under the {@code anonymous} provider. */
  public static final Principal ANONYMOUS = new Principal(null, true, null, Set.of());

  /** Copies {@code permissions}. */
  public Principal {
    permissions = permissions == null ? Set.of() : Set.copyOf(permissions);
  }

  /** @return a signed-in user without scopes or token permissions */
  public static Principal user(String userId) {
    return new Principal(userId, false, null, Set.of());
  }

  /** @return {@link #user} of {@code userId}, or {@link #ANONYMOUS} when it is {@code null} */
  public static Principal userOrAnonymous(String userId) {
    return userId == null ? ANONYMOUS : user(userId);
  }

  /** @return whether scopes restrict this principal */
  public boolean scoped() {
    return scopes != null;
  }
}
