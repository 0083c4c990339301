package io.syncedstore.persistence;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.protocol.MutationRequest;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** A small app that touches every tier and can fail on purpose, and configs for engines on temp H2 files. */
final class TestApps {
  private TestApps() {}

  record Put(String key, JsonNode value) {}

  record Key(String key) {}

  static final AppDefinition LAB = AppDefinition.builder("lab")
      .table("kv", JsonNode.class)
      .table("notes", JsonNode.class)
      .mutator("put", Put.class, (ctx, in) -> ctx.table("kv").set(in.key(), in.value()))
      .mutator("del", Key.class, (ctx, in) -> ctx.table("kv").delete(in.key()))
      .mutator("putPrivate", Put.class, (ctx, in) -> ctx.privateOfUser(ctx.userId().orElseThrow()).table("notes").set(in.key(), in.value()))
      .mutator("putServer", Put.class, (ctx, in) -> ctx.serverOnly().table("kv").set(in.key(), in.value()))
      .mutator("boom", Key.class, (ctx, in) -> {
        ctx.table("kv").set(in.key(), JsonNodeFactory.instance.textNode("must not be applied"));
        throw new IllegalStateException("boom on " + in.key());
      })
      .build();

  static MutationRequest put(long id, String key, String value) {
    return new MutationRequest(id, "put", args("key", key, "value", value), 1_700_000_000_000L + id);
  }

  static MutationRequest named(long id, String name, Object... kv) {
    return new MutationRequest(id, name, args(kv), 1_700_000_000_000L + id);
  }

  static JsonNode args(Object... kv) {
    Map<String, Object> m = new HashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return io.syncedstore.api.Json.mapper().valueToTree(m);
  }

  /** A complete config for an engine whose H2 file lives in {@code dir}. */
  static Config config(Path dir, int snapshotEvery) {
    return config(dir, snapshotEvery, 10);
  }

  /** A complete config whose snapshots come after max(snapshotEvery, entries / rowsPerEvent) events. */
  static Config config(Path dir, int snapshotEvery, int rowsPerEvent) {
    Map<String, Object> overrides = new HashMap<>();
    overrides.put("synced-store.instance.snapshot-rows-per-event", rowsPerEvent);
    overrides.put("synced-store.data-dir", dir.toString());
    overrides.put("synced-store.instance.snapshot-every", snapshotEvery);
    overrides.put("pekko.loglevel", "DEBUG");
    return SyncConfig.load(ConfigFactory.parseMap(overrides));
  }
}
