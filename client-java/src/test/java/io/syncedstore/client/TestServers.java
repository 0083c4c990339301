package io.syncedstore.client;

import com.typesafe.config.ConfigFactory;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.gateway.Main;
import io.syncedstore.gateway.SyncServer;
import io.syncedstore.persistence.SyncConfig;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Servers for tests (copied from http-gateway's test scope): 127.0.0.1, a free port unless given,
 * a real H2 file under {@code dir}, the dev auth provider.
 */
final class TestServers {
  private TestServers() {}

  /** @return a started server for {@code apps} on {@code port} (0 for a free one) */
  static SyncServer start(Path dir, List<AppDefinition> apps, int port) {
    Map<String, Object> config = new HashMap<>(Map.of(
        "synced-store.http.port", port,
        "synced-store.http.host", "127.0.0.1",
        "synced-store.data-dir", dir.toString(),
        "synced-store.auth.provider", "dev"));
    return SyncServer.start(SyncConfig.load(ConfigFactory.parseMap(config), Main.GATEWAY_DEFAULTS), apps);
  }
}
