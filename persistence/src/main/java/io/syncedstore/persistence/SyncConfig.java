package io.syncedstore.persistence;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.Map;

/**
 * Assembles the complete configuration: the caller's settings (a profile, overrides), then our
 * changes to other libraries' defaults ({@code synced-store-*-defaults.conf}), then every
 * module's {@code reference.conf}; substitutions such as {@code ${synced-store.data-dir}} are
 * resolved last, so an override of the data directory reaches the JDBC URL.
 */
public final class SyncConfig {
  private SyncConfig() {}

  /**
   * @param settings the caller's settings, unresolved (e.g. {@code ConfigFactory.parseFile(profile)})
   * @param defaults names of extra defaults resources to layer below {@code settings}, highest first
   * @return the resolved configuration
   */
  public static Config load(Config settings, String... defaults) {
    Config layered = settings;
    for (String resource : defaults) {
      layered = layered.withFallback(ConfigFactory.parseResourcesAnySyntax(resource));
    }
    layered = layered.withFallback(ConfigFactory.parseResourcesAnySyntax("synced-store-persistence-defaults"));
    Config resolved = ConfigFactory.load(layered);
    // H2 refuses file URLs relative to the working directory, so the data directory is made absolute here, once.
    Path dataDir = Path.of(resolved.getString("synced-store.data-dir"));
    if (!dataDir.isAbsolute()) {
      Config absolute = ConfigFactory.parseMap(Map.of("synced-store.data-dir", dataDir.toAbsolutePath().normalize().toString()));
      resolved = ConfigFactory.load(absolute.withFallback(layered));
    }
    return resolved;
  }
}
