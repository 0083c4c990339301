package io.syncedstore.persistence;

import io.syncedstore.api.auth.Principal;
import static io.syncedstore.persistence.TestApps.LAB;
import static io.syncedstore.persistence.TestApps.put;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.syncedstore.runtime.AppInstance;
import io.syncedstore.runtime.InstanceId;
import java.io.File;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The PostgreSQL profile (config/postgres.conf) against the local server that .ci/run starts:
 * schema created at start-up, mutations persisted, state recovered by a new actor system.
 * Skipped where no PostgreSQL listens on 127.0.0.1:5432.
 */
@ExtendWith(LogCapturingExtension.class)
class PostgresProfileTest {

  private static boolean postgresRunning() {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", 5432), 1000);
      return true;
    } catch (Exception e) {
      return false;
    }
  }

  private static Config profile() {
    File file = new File("../config/postgres.conf");
    return SyncConfig.load(ConfigFactory.parseMap(Map.of("synced-store.data-dir", "target/pg-unused"))
        .withFallback(ConfigFactory.parseFile(file)));
  }

  @Test
  void postgresProfilePersistsAndRecovers() throws Exception {
    assumeTrue(postgresRunning(), "PostgreSQL is not running on 127.0.0.1:5432");
    InstanceId id = new InstanceId("lab", "pg-" + UUID.randomUUID());
    String cookie;
    try (SyncEngine engine = SyncEngine.start(profile(), List.of(LAB), "pg")) {
      AppInstance.PushResult r = engine.push(id, "g", "c1", Principal.ANONYMOUS, List.of(put(1, "a", "1"), put(2, "b", "2")))
          .toCompletableFuture().get(30, TimeUnit.SECONDS);
      assertEquals(2, r.lastMutationId());
      cookie = r.cookie();
    }
    try (SyncEngine engine = SyncEngine.start(profile(), List.of(LAB), "pg")) {
      AppInstance.PullResult pull = engine.pull(id, "g", null, Principal.ANONYMOUS).toCompletableFuture().get(30, TimeUnit.SECONDS);
      assertEquals(cookie, pull.cookie());
      assertEquals(List.of("clear", "put a", "put b"),
          pull.patch().stream().map(o -> o.itemKey() == null ? o.op() : o.op() + " " + o.itemKey()).sorted().toList());
      assertEquals(Map.of("c1", 2L), pull.lastMutationIdChanges());
    }
  }
}
