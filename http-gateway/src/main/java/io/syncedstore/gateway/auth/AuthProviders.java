package io.syncedstore.gateway.auth;

import com.typesafe.config.Config;

/** The auth providers that {@code synced-store.auth.provider} names ({@code docs/SECURITY.md}). */
public final class AuthProviders {
  private AuthProviders() {}

  /**
   * @param auth the {@code synced-store.auth} section
   * @return the provider it configures
   * @throws IllegalArgumentException when the provider or its settings are not valid; the message names the setting
   */
  public static AuthProvider fromConfig(Config auth) {
    String name = auth.getString("provider");
    return switch (name) {
      case "anonymous" -> token -> Authentication.ANONYMOUS;
      case "dev" -> new DevAuthProvider();
      default -> throw new IllegalArgumentException("unknown synced-store.auth.provider '" + name + "' (anonymous | dev)");
    };
  }
}
