package io.syncedstore.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.Json;
import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.api.store.TableAddress;
import io.syncedstore.api.store.Write;
import io.syncedstore.runtime.journal.MutationApplied;
import java.time.Duration;
import java.util.List;
import org.apache.pekko.persistence.testkit.PersistenceTestKitPlugin;
import org.apache.pekko.persistence.testkit.PersistenceTestKitSnapshotPlugin;

/** The tiny app the runtime tests run, and helpers to build its mutations and expected events. */
final class TestApp {
  private TestApp() {}

  static final String NAME = "test";
  static final long TS = 1_700_000_000_000L;
  static final TableAddress KV = TableAddress.publicTable("kv");

  /** Input of {@code put}, {@code boom} and {@code note}. */
  record Put(String key, JsonNode value) {}

  /** Input of {@code del}. */
  record Key(String key) {}

  static final AppDefinition APP = AppDefinition.builder(NAME)
      .table("kv", JsonNode.class)
      .table("notes", JsonNode.class)
      .mutator("put", Put.class, (ctx, in) -> ctx.table("kv").set(in.key(), in.value()))
      .mutator("del", Key.class, (ctx, in) -> ctx.table("kv").delete(in.key()))
      // writes first, then throws: the write must not survive
      .mutator("boom", Put.class, (ctx, in) -> {
        ctx.table("kv").set(in.key(), in.value());
        throw new IllegalStateException("kaboom");
      })
      // reads before it writes: within a group commit it must see the writes of earlier mutations of the batch
      .mutator("incr", Key.class, (ctx, in) -> ctx.table("kv").set(in.key(), ctx.table("kv").get(in.key()).map(JsonNode::asInt).orElse(0) + 1))
      .mutator("note", Put.class, (ctx, in) -> ctx.privateOfUser(ctx.userId().orElse(null)).table("notes").set(in.key(), in.value()))
      .build();

  static JsonNode json(Object value) {
    return Json.mapper().valueToTree(value);
  }

  static ObjectNode putArgs(String key, Object value) {
    ObjectNode args = JsonNodeFactory.instance.objectNode();
    args.put("key", key);
    args.set("value", json(value));
    return args;
  }

  static MutationRequest put(long id, String key, Object value) {
    return new MutationRequest(id, "put", putArgs(key, value), TS + id);
  }

  static MutationRequest boom(long id, String key) {
    return new MutationRequest(id, "boom", putArgs(key, "never"), TS + id);
  }

  static MutationRequest del(long id, String key) {
    ObjectNode args = JsonNodeFactory.instance.objectNode();
    args.put("key", key);
    return new MutationRequest(id, "del", args, TS + id);
  }

  static MutationRequest incr(long id, String key) {
    ObjectNode args = JsonNodeFactory.instance.objectNode();
    args.put("key", key);
    return new MutationRequest(id, "incr", args, TS + id);
  }

  static MutationRequest note(long id, String key, Object value) {
    return new MutationRequest(id, "note", putArgs(key, value), TS + id);
  }

  /** @return the event a successful {@code put} of {@code m} by {@code clientId} must produce */
  static MutationApplied appliedPut(String group, String clientId, String userId, MutationRequest m) {
    Write write = Write.put(KV, m.args().get("key").asText(), "", m.args().get("value"));
    return new MutationApplied(group, clientId, m.id(), m.name(), m.args(), userId, m.timestamp(), List.of(write), List.of());
  }

  static RuntimeSettings settings(int snapshotEvery, Duration idleTimeout, int maxPendingMutations) {
    return new RuntimeSettings(snapshotEvery, 10, 2, idleTimeout, maxPendingMutations, 100_000, 1000, Duration.ofSeconds(10));
  }

  /**
   * An actor system config with the in-memory journal and snapshot store of the persistence
   * testkit, this module's reference.conf, and {@code overrides} on top.
   */
  static Config persistenceConfig(String overrides) {
    return ConfigFactory.parseString(overrides)
        .withFallback(PersistenceTestKitPlugin.getInstance().config())
        .withFallback(PersistenceTestKitSnapshotPlugin.getInstance().config())
        .withFallback(ConfigFactory.load());
  }
}
