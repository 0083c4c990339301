package io.syncedstore.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The command line: help, options over the config file, and a clear error for a bad --config. */
class MainTest {
  @TempDir
  Path dir;

  private static int execute(StringWriter out, StringWriter err, String... args) {
    CommandLine cli = new CommandLine(new Main());
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    int code = cli.execute(args);
    cli.getOut().flush();
    cli.getErr().flush();
    return code;
  }

  @Test
  void helpListsEveryOptionAndTheEnvironment() {
    StringWriter out = new StringWriter();
    int code = execute(out, new StringWriter(), "--help");
    assertEquals(0, code);
    for (String expected : new String[] {"--port", "--data-dir", "--config", "SYNC_PORT", "SYNC_DATA_DIR", "SYNC_CONFIG"}) {
      assertTrue(out.toString().contains(expected), expected + " missing from:\n" + out);
    }
  }

  @Test
  void optionsWinOverTheConfigFileAndTheDataDirBecomesAbsolute() throws Exception {
    Path profile = dir.resolve("profile.conf");
    Files.writeString(profile, "include classpath(\"application\")\nsynced-store.http.port = 9999\nsynced-store.auth.provider = dev\n");
    Main main = new Main();
    main.environment = java.util.Map.of();
    new CommandLine(main).parseArgs("--port", "1234", "--data-dir", "relative/data", "--config", profile.toString());
    Config config = main.config();
    assertEquals(1234, config.getInt("synced-store.http.port"));
    assertEquals("dev", config.getString("synced-store.auth.provider"));
    Path dataDir = Path.of(config.getString("synced-store.data-dir"));
    assertTrue(dataDir.isAbsolute() && dataDir.endsWith("relative/data"), dataDir.toString());
    String url = config.getString("pekko-persistence-jdbc.shared-databases.slick.db.url");
    assertTrue(url.startsWith("jdbc:h2:file:" + dataDir + "/journal;") && url.contains("WRITE_DELAY=0"), url);
  }

  @Test
  void environmentWinsOverTheConfigFileAndOptionsOverTheEnvironment() throws Exception {
    Path profile = dir.resolve("profile.conf");
    Files.writeString(profile, "synced-store.http.port = 9999\nsynced-store.data-dir = \"/from/file\"\n");
    Main main = new Main();
    main.environment = java.util.Map.of("SYNC_PORT", "7777", "SYNC_DATA_DIR", "/from/env", "SYNC_HOST", "0.0.0.0");
    new CommandLine(main).parseArgs("--config", profile.toString(), "--data-dir", "/from/option");
    Config config = main.config();
    assertEquals(7777, config.getInt("synced-store.http.port"));
    assertEquals("0.0.0.0", config.getString("synced-store.http.host"));
    assertEquals("/from/option", config.getString("synced-store.data-dir"));
  }

  @Test
  void unreadableConfigFileIsAUsageError() {
    StringWriter err = new StringWriter();
    int code = execute(new StringWriter(), err, "--config", dir.resolve("missing.conf").toString());
    assertEquals(2, code);
    assertTrue(err.toString().contains("cannot read"), err.toString());
  }
}
