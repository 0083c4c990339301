package io.syncedstore.gateway;

import com.typesafe.config.ConfigFactory;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.persistence.SyncConfig;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Servers for tests: 127.0.0.1, a free port, a real H2 file under {@code dir}, the dev auth provider. */
final class TestServers {
  private TestServers() {}

  /** @return a started server for {@code apps}, with {@code settings} over the test defaults */
  static SyncServer start(Path dir, List<AppDefinition> apps, Map<String, Object> settings) {
    Map<String, Object> config = new HashMap<>(Map.of(
        "synced-store.http.port", 0,
        "synced-store.http.host", "127.0.0.1",
        "synced-store.data-dir", dir.toString(),
        "synced-store.auth.provider", "dev"));
    // Tests flood on purpose (slow consumers, concurrent writers): quotas out of the way unless a test sets them.
    config.putAll(Quotas.liftedSettings(true));
    config.putAll(settings);
    return SyncServer.start(SyncConfig.load(ConfigFactory.parseMap(config), Main.GATEWAY_DEFAULTS), apps);
  }

  /** @return a started server for the example apps */
  static SyncServer start(Path dir) {
    return start(dir, SyncServer.discoverApps(), Map.of());
  }
}
