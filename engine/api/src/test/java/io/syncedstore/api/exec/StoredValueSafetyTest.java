package io.syncedstore.api.exec;

import static io.syncedstore.api.exec.ExecSupport.F;
import static io.syncedstore.api.exec.ExecSupport.applied;
import static io.syncedstore.api.exec.ExecSupport.apply;
import static io.syncedstore.api.exec.ExecSupport.failed;
import static io.syncedstore.api.exec.ExecSupport.invocation;
import static io.syncedstore.api.exec.ExecSupport.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.store.EntryStore;
import io.syncedstore.api.store.TableAddress;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What a mutator writes is stored in the form the journal will give back after a restart, can
 * never be changed behind the store's back, and no throwable from app code escapes the executor.
 */
class StoredValueSafetyTest {
  record Key(String key) {}

  private static final AppDefinition APP = AppDefinition.builder("safety")
      .table("kv", JsonNode.class)
      .mutator("hugeNumber", Key.class, (ctx, in) -> ctx.table("kv").set(in.key(), F.numberNode(BigInteger.TEN.pow(1200))))
      .mutator("hugeFieldName", Key.class, (ctx, in) -> ctx.table("kv").set(in.key(), Map.of("n".repeat(60_000), 1)))
      .mutator("exactDecimal", Key.class, (ctx, in) -> ctx.table("kv").set(in.key(), Map.of("amount", new BigDecimal("0.12345678901234567890123"))))
      .mutator("put", Key.class, (ctx, in) -> ctx.table("kv").set(in.key(), Map.of("count", 0)))
      .mutator("mutateReadThenThrow", Key.class, (ctx, in) -> {
        ObjectNode node = ctx.table("kv").get(in.key(), ObjectNode.class).orElseThrow();
        node.put("count", 1);
        throw new IllegalStateException("after changing the value it read");
      })
      .mutator("assertionError", Key.class, (ctx, in) -> {
        throw new AssertionError("app assertion");
      })
      .mutator("outOfMemory", Key.class, (ctx, in) -> {
        throw new OutOfMemoryError("Requested array size exceeds VM limit");
      })
      .build();

  private final MutationExecutor server = new MutationExecutor(APP, true);

  private static JsonNode key(String k) {
    return json("{\"key\":\"" + k + "\"}");
  }

  @Test
  void valuesTheJournalCouldNotReadBackAreRefusedAtOnce() {
    EntryStore store = new EntryStore();
    assertTrue(failed(server.run(store, invocation("hugeNumber", key("a"), null)), ErrorCode.NOT_JSON).message().contains("kv/a"));
    failed(server.run(store, invocation("hugeFieldName", key("b"), null)), ErrorCode.NOT_JSON);
    assertEquals(0, store.liveRows());
  }

  @Test
  void decimalsAreStoredExactlyAsTheJournalReadsThem() throws Exception {
    EntryStore store = new EntryStore();
    apply(store, server.run(store, invocation("exactDecimal", key("m"), null)), 1);
    JsonNode stored = store.get(TableAddress.publicTable("kv"), "m").value();
    assertEquals("0.12345678901234567890123", stored.get("amount").decimalValue().toPlainString());
    // what a restart reads back from the journal is the same tree
    assertEquals(stored, Json.mapper().readTree(Json.bytes(stored)));
  }

  @Test
  void aValueReadAsAnObjectNodeIsTheCallersCopy() {
    EntryStore store = new EntryStore();
    apply(store, server.run(store, invocation("put", key("k"), null)), 1);
    failed(server.run(store, invocation("mutateReadThenThrow", key("k"), null)), ErrorCode.MUTATOR_FAILED);
    assertEquals(0, store.get(TableAddress.publicTable("kv"), "k").value().get("count").asInt(),
        "a failed mutation changed a stored value in place");
  }

  @Test
  void errorsFromAppCodeFailTheMutationInsteadOfEscaping() {
    EntryStore store = new EntryStore();
    assertTrue(failed(server.run(store, invocation("assertionError", key("k"), null)), ErrorCode.MUTATOR_FAILED)
        .message().contains("app assertion"));
    failed(server.run(store, invocation("outOfMemory", key("k"), null)), ErrorCode.MUTATOR_FAILED);
    applied(server.run(store, invocation("put", key("k"), null)));
  }
}
