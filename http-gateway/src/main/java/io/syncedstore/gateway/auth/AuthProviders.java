package io.syncedstore.gateway.auth;

import com.typesafe.config.Config;
import java.util.List;

/** The auth providers that {@code synced-store.auth.provider} names ({@code docs/SECURITY.md}). */
public final class AuthProviders {
  /** Every provider {@code synced-store.auth.provider} may name. */
  static final List<String> NAMES = List.of("anonymous", "dev", "jwt", "callback", "mixed");
  /** The providers {@code synced-store.auth.mixed.primary} may name. */
  static final List<String> MIXED_PRIMARIES = List.of("jwt", "callback", "dev");

  private AuthProviders() {}

  /**
   * @param auth the {@code synced-store.auth} section
   * @return the provider it configures
   * @throws IllegalArgumentException when the provider or its settings are not valid; the message names the setting
   */
  public static AuthProvider fromConfig(Config auth) {
    return create(auth.getString("provider"), auth);
  }

  /**
   * @param name a provider's name
   * @param auth the {@code synced-store.auth} section, whose sub-section of the same name configures it
   * @return the provider
   */
  static AuthProvider create(String name, Config auth) {
    return switch (name) {
      case "anonymous" -> token -> Authentication.ANONYMOUS;
      case "dev" -> new DevAuthProvider();
      case "jwt" -> new JwtAuthProvider(section(auth, "jwt"));
      case "callback" -> new CallbackAuthProvider(section(auth, "callback"));
      case "mixed" -> MixedAuthProvider.fromConfig(auth);
      default -> throw new IllegalArgumentException("unknown synced-store.auth.provider '" + name + "' ("
          + String.join(" | ", NAMES) + ")");
    };
  }

  private static Config section(Config auth, String name) {
    return auth.hasPath(name) ? auth.getConfig(name) : com.typesafe.config.ConfigFactory.empty();
  }
}
