package io.syncedstore.gateway;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import io.syncedstore.persistence.SyncConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** The server's command line: {@code java -jar synced-store-server.jar [--port N] [--data-dir DIR] [--config FILE]}. */
@Command(name = "synced-store-server", mixinStandardHelpOptions = true, version = "synced-store-server 0.1.0",
    description = "Runs the Synced Store sync server with the apps found on the class path (the example apps by default).",
    footer = {"", "Environment: SYNC_PORT, SYNC_DATA_DIR, SYNC_CONFIG, SYNC_HOST.",
        "Options win over environment, environment over the config file. SIGTERM shuts down cleanly."})
public final class Main implements Callable<Integer> {
  /** The gateway's changes to Pekko HTTP defaults, layered by {@link SyncConfig#load}. */
  public static final String GATEWAY_DEFAULTS = "synced-store-gateway-defaults";

  @Spec
  CommandSpec spec;

  @Option(names = "--port", paramLabel = "N", description = "HTTP port; 0 picks a free one (default 8080, env SYNC_PORT)")
  Integer port;

  @Option(names = "--data-dir", paramLabel = "DIR", description = "where the embedded H2 journal lives (default ./data, env SYNC_DATA_DIR)")
  Path dataDir;

  @Option(names = "--config", paramLabel = "FILE", defaultValue = "${env:SYNC_CONFIG}",
      description = "a HOCON profile, e.g. config/postgres.conf (env SYNC_CONFIG)")
  Path configFile;

  /** Runs the server until it is stopped. */
  public static void main(String[] args) {
    int code = new CommandLine(new Main()).execute(args);
    if (code != 0) {
      System.exit(code);
    }
  }

  @Override
  public Integer call() {
    Config config = config();
    SyncServer server = SyncServer.start(config, SyncServer.discoverApps());
    server.engine().system().getWhenTerminated().toCompletableFuture().join();
    return 0;
  }

  /** The environment; a field so tests can replace it. */
  Map<String, String> environment = System.getenv();

  Config config() {
    Map<String, Object> overrides = new HashMap<>();
    // precedence: option, then environment variable, then the config file, then defaults
    putFirst(overrides, "synced-store.http.port", port, environment.get("SYNC_PORT"));
    putFirst(overrides, "synced-store.data-dir", dataDir == null ? null : dataDir.toString(), environment.get("SYNC_DATA_DIR"));
    putFirst(overrides, "synced-store.http.host", null, environment.get("SYNC_HOST"));
    Config file;
    if (configFile != null) {
      if (!Files.isReadable(configFile)) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--config: cannot read " + configFile);
      }
      file = ConfigFactory.parseFile(configFile.toFile());
    } else {
      file = ConfigFactory.defaultApplication();
    }
    return SyncConfig.load(ConfigFactory.parseMap(overrides).withFallback(file), GATEWAY_DEFAULTS);
  }

  private static void putFirst(Map<String, Object> overrides, String key, Object option, String env) {
    if (option != null) {
      overrides.put(key, option);
    } else if (env != null && !env.isEmpty()) {
      overrides.put(key, env);
    }
  }
}
