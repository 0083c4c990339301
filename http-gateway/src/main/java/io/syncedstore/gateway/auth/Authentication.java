package io.syncedstore.gateway.auth;

import io.syncedstore.api.auth.Principal;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Base64;

/**
 * What an {@link AuthProvider} made of a token.
 *
 * @param principal who the caller is
 * @param expiresAt when the token stops being valid (a sync connection is closed then with 4440,
 *     and the client reconnects with a fresh token), or {@code null} when it does not expire
 * @param anonymousIdentity whether the principal is an anonymous user who gets an id of its own
 *     from its client group ({@link #forClientGroup}) — the {@code mixed} provider's anonymous users
 */
public record Authentication(Principal principal, Instant expiresAt, boolean anonymousIdentity) {
  /** The prefix of the ids of anonymous users. */
  public static final String ANONYMOUS_PREFIX = "anon-";

  /** Anonymous without a user id: the {@code anonymous} provider, and requests without a token under {@code dev}. */
  public static final Authentication ANONYMOUS = new Authentication(Principal.ANONYMOUS, null, false);

  /** @return a signed-in principal whose token expires at {@code expiresAt} ({@code null}: never) */
  public static Authentication of(Principal principal, Instant expiresAt) {
    return new Authentication(principal, expiresAt, false);
  }

  /**
   * @param clientGroupId the client group the request or connection comes from, or {@code null}
   *     when it has none (an action called over HTTP)
   * @return the principal; for an anonymous user with an identity of its own, with the user id
   *     {@code anon-<digest of clientGroupId>} (stable for as long as the client keeps its group,
   *     and not revealing the group id, which is the client's secret) and its scopes bound to it
   */
  public Principal forClientGroup(String clientGroupId) {
    if (!anonymousIdentity || clientGroupId == null) {
      return principal;
    }
    String userId = anonymousUserId(clientGroupId);
    return new Principal(userId, true, principal.scopes() == null ? null : principal.scopes().bind(userId), principal.permissions());
  }

  /** @return the anonymous user id of {@code clientGroupId} */
  public static String anonymousUserId(String clientGroupId) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(("synced-store anonymous user\0" + clientGroupId).getBytes(StandardCharsets.UTF_8));
      return ANONYMOUS_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(digest).substring(0, 22);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
