package io.syncedstore.gateway.auth;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigRenderOptions;
import io.syncedstore.api.Json;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.auth.Principal;
import io.syncedstore.api.auth.Scopes;
import java.util.Set;

/**
 * Signed-in and anonymous users side by side ({@code synced-store.auth.provider = mixed}).
 *
 * <p>A request with a token is authenticated by the primary provider
 * ({@code synced-store.auth.mixed.primary}: jwt, callback or dev, configured by its own section),
 * and its refusals stand. A request without a token is an anonymous user restricted to the tables
 * of {@code synced-store.auth.mixed.anonymous-scopes}; {@link Authentication#forClientGroup} gives
 * it the id {@code anon-<digest of its client group>}, stable for as long as the client keeps its
 * group, and binds {@value Scopes#USER_ID} in the scopes to that id.
 */
public final class MixedAuthProvider implements AuthProvider {
  private static final String SCOPES_SETTING = "synced-store.auth.mixed.anonymous-scopes";

  private final AuthProvider primary;
  private final Authentication anonymous;

  /**
   * @param primary the provider for requests with a token
   * @param anonymousScopes what anonymous users may see and write
   */
  public MixedAuthProvider(AuthProvider primary, Scopes anonymousScopes) {
    this.primary = primary;
    this.anonymous = new Authentication(new Principal(null, true, anonymousScopes, Set.of()), null, true);
  }

  /**
   * @param auth the {@code synced-store.auth} section; {@code mixed.primary} names the primary
   *     provider, whose own section configures it
   * @throws IllegalArgumentException when a setting is not valid; the message names it
   */
  public static MixedAuthProvider fromConfig(Config auth) {
    String primary = auth.hasPath("mixed.primary") ? auth.getString("mixed.primary") : "jwt";
    if (!AuthProviders.MIXED_PRIMARIES.contains(primary)) {
      throw new IllegalArgumentException("unknown synced-store.auth.mixed.primary '" + primary + "' ("
          + String.join(" | ", AuthProviders.MIXED_PRIMARIES) + ")");
    }
    return new MixedAuthProvider(AuthProviders.create(primary, auth), anonymousScopes(auth));
  }

  /** @return the {@code mixed.anonymous-scopes} object of {@code auth} as scopes; none when absent */
  static Scopes anonymousScopes(Config auth) {
    if (!auth.hasPath("mixed.anonymous-scopes")) {
      return Scopes.fromJson(Json.mapper().createObjectNode());
    }
    String json;
    try {
      json = auth.getObject("mixed.anonymous-scopes").render(ConfigRenderOptions.concise());
    } catch (ConfigException.WrongType e) {
      throw new IllegalArgumentException(SCOPES_SETTING + " must be an object of table name to an object of field values", e);
    }
    try {
      return Scopes.fromJson(Json.mapper().readTree(json));
    } catch (SyncException e) {
      throw new IllegalArgumentException(SCOPES_SETTING + ": " + e.getMessage(), e);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(SCOPES_SETTING + " is not valid: " + e.getOriginalMessage(), e);
    }
  }

  /** @return the provider for requests with a token */
  public AuthProvider primary() {
    return primary;
  }

  @Override
  public Authentication authenticate(String token) {
    if (token == null || token.isEmpty()) {
      return anonymous;
    }
    return primary.authenticate(token);
  }
}
