package io.syncedstore.api.exec;

import static io.syncedstore.api.AppDefinition.item;
import static io.syncedstore.api.exec.ExecSupport.F;
import static io.syncedstore.api.exec.ExecSupport.applied;
import static io.syncedstore.api.exec.ExecSupport.failed;
import static io.syncedstore.api.exec.ExecSupport.invocation;
import static io.syncedstore.api.exec.ExecSupport.json;
import static io.syncedstore.api.exec.ExecSupport.snapshot;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.Limits;
import io.syncedstore.api.MutationContext;
import io.syncedstore.api.store.EntryStore;
import io.syncedstore.api.store.TableAddress;
import io.syncedstore.api.store.Write;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every limit and type check of {@link MutationExecutor} at its boundary: exactly at the limit
 * passes, one over fails with the documented code, and a failed mutation writes nothing.
 */
class MutationValidationTest {
  /** Keys of 8 chars, values of 64 bytes, inputs of 128 bytes, 3 writes, depth 4. */
  private static final Limits SMALL = new Limits(8, 64, 128, 3, 4);

  record Person(String name, int age) {}

  enum Mode { SLOW, FAST }

  record Nested(String x) {}

  record EchoInput(String s, int n, Optional<Boolean> b, List<Nested> list) {}

  private final AtomicReference<Consumer<MutationContext>> body = new AtomicReference<>();
  private MutationExecutor executor;
  private EntryStore store;
  private Set<Object> before;

  @BeforeEach
  void setUp() {
    AppDefinition app = AppDefinition.builder("validation")
        .table("items", JsonNode.class)
        .table("people", Person.class)
        .singletonTable("settings", item("pageSize", Integer.class), item("mode", Mode.class))
        .mutator("run", JsonNode.class, (ctx, in) -> {
          // every failing case first writes something valid, which must not survive
          ctx.table("items").set("ok", "s", F.textNode("written before the failure"));
          body.get().accept(ctx);
        })
        .mutator("echo", EchoInput.class, (ctx, in) -> ctx.table("items").set("echo", F.textNode(in.s())))
        .limits(SMALL)
        .build();
    assertEquals(SMALL, app.limits());
    executor = new MutationExecutor(app, true);
    store = new EntryStore();
    store.apply(Write.put(TableAddress.publicTable("items"), "base", "", F.textNode("base")), 1);
    before = snapshot(store);
  }

  @AfterEach
  void storeUnchanged() {
    assertEquals(before, snapshot(store), "the executor changed the store it ran on");
  }

  private MutationOutcome run(Consumer<MutationContext> mutator) {
    body.set(mutator);
    return executor.run(store, invocation("run", F.objectNode(), "u1"));
  }

  private MutationOutcome.Failed fails(ErrorCode code, Consumer<MutationContext> mutator) {
    return failed(run(mutator), code);
  }

  private void passes(Consumer<MutationContext> mutator) {
    applied(run(mutator));
  }

  private static String chars(char c, int n) {
    return String.valueOf(c).repeat(n);
  }

  private static JsonNode nested(int depth) {
    JsonNode node = F.numberNode(1);
    for (int i = 0; i < depth; i++) {
      ArrayNode a = F.arrayNode();
      a.add(node);
      node = a;
    }
    return node;
  }

  // ---------------------------------------------------------------- keys

  @Test
  void keyLength() {
    passes(ctx -> ctx.table("items").set(chars('k', 8), chars('s', 8), F.textNode("v")));
    assertTrue(fails(ErrorCode.INVALID_KEY, ctx -> ctx.table("items").set(chars('k', 9), F.textNode("v"))).message().contains("8"));
    fails(ErrorCode.INVALID_KEY, ctx -> ctx.table("items").set("k", chars('s', 9), F.textNode("v")));
    fails(ErrorCode.INVALID_KEY, ctx -> ctx.table("items").delete(chars('k', 9)));
    fails(ErrorCode.INVALID_KEY, ctx -> ctx.table("items").set("", F.textNode("v")));
    fails(ErrorCode.INVALID_KEY, ctx -> ctx.table("items").set(null, F.textNode("v")));
    fails(ErrorCode.INVALID_KEY, ctx -> ctx.table("items").set("k", null, F.textNode("v")));
    fails(ErrorCode.INVALID_KEY, ctx -> ctx.table("items").delete(""));
    // keys are measured in UTF-16 chars, not bytes
    passes(ctx -> ctx.table("items").set(chars('é', 8), F.textNode("v")));
  }

  // ---------------------------------------------------------------- values

  @Test
  void valueSizeInUtf8Bytes() {
    // a JSON string of n chars is n + 2 bytes
    passes(ctx -> ctx.table("items").set("k", F.textNode(chars('v', 62))));
    MutationOutcome.Failed f = fails(ErrorCode.VALUE_TOO_LARGE, ctx -> ctx.table("items").set("k", F.textNode(chars('v', 63))));
    assertTrue(f.message().contains("65") && f.message().contains("64"), f.message());
    // 31 two-byte chars: 64 bytes, fine; 32 of them: 66 bytes although only 32 chars
    passes(ctx -> ctx.table("items").set("k", F.textNode(chars('é', 31))));
    fails(ErrorCode.VALUE_TOO_LARGE, ctx -> ctx.table("items").set("k", F.textNode(chars('é', 32))));
    // the limit applies to every tier, and on the client too
    fails(ErrorCode.VALUE_TOO_LARGE, ctx -> ctx.serverOnly().table("items").set("k", F.textNode(chars('v', 63))));
  }

  @Test
  void valuesMustBePlainJson() {
    fails(ErrorCode.NOT_JSON, ctx -> ctx.table("items").set("k", F.numberNode(Double.NaN)));
    fails(ErrorCode.NOT_JSON, ctx -> ctx.table("items").set("k", F.numberNode(Float.POSITIVE_INFINITY)));
    fails(ErrorCode.NOT_JSON, ctx -> ctx.table("items").set("k", Double.NEGATIVE_INFINITY));
    fails(ErrorCode.NOT_JSON, ctx -> ctx.table("items").set("k", F.objectNode().set("deep", F.arrayNode().add(Double.NaN))));
    fails(ErrorCode.NOT_JSON, ctx -> ctx.table("items").set("k", null));
    fails(ErrorCode.NOT_JSON, ctx -> ctx.table("items").set("k", F.pojoNode(new Object())));
    passes(ctx -> ctx.table("items").set("k", 1.5));
  }

  @Test
  void valueDepth() {
    passes(ctx -> ctx.table("items").set("k", nested(4)));
    assertTrue(fails(ErrorCode.NOT_JSON, ctx -> ctx.table("items").set("k", nested(5))).message().contains("4"));
  }

  @Test
  void valuesMustMatchTheTableType() {
    passes(ctx -> ctx.table("people").set("p", new Person("Ann", 30)));
    passes(ctx -> ctx.table("people").set("p", json("{\"name\":\"Ann\",\"age\":30}")));
    assertTrue(fails(ErrorCode.INVALID_VALUE, ctx -> ctx.table("people").set("p", json("{\"name\":\"Ann\"}"))).message().contains("age"));
    assertTrue(fails(ErrorCode.INVALID_VALUE, ctx -> ctx.table("people").set("p", json("{\"name\":\"Ann\",\"age\":\"30\"}")))
        .message().contains("age"));
    assertTrue(fails(ErrorCode.INVALID_VALUE, ctx -> ctx.table("people").set("p", json("{\"name\":\"A\",\"age\":3,\"x\":1}")))
        .message().contains("x"));
    fails(ErrorCode.INVALID_VALUE, ctx -> ctx.table("people").set("p", json("{\"name\":\"Ann\",\"age\":1.5}")));
    fails(ErrorCode.INVALID_VALUE, ctx -> ctx.table("people").set("p", "Ann"));
  }

  @Test
  void singletonTables() {
    passes(ctx -> ctx.table("settings").set("pageSize", 20));
    passes(ctx -> ctx.table("settings").set("mode", Mode.FAST));
    passes(ctx -> ctx.table("settings").set("mode", "SLOW"));
    passes(ctx -> ctx.table("settings").delete("mode"));
    MutationOutcome.Failed f = fails(ErrorCode.UNKNOWN_ITEM, ctx -> ctx.table("settings").set("theme", "dark"));
    assertTrue(f.message().contains("theme"), f.message());
    fails(ErrorCode.UNKNOWN_ITEM, ctx -> ctx.table("settings").delete("theme"));
    fails(ErrorCode.UNKNOWN_ITEM, ctx -> ctx.privateOfUser("u1").table("settings").set("theme", "dark"));
    fails(ErrorCode.INVALID_VALUE, ctx -> ctx.table("settings").set("pageSize", "20"));
    fails(ErrorCode.INVALID_VALUE, ctx -> ctx.table("settings").set("mode", "MEDIUM"));
  }

  /**
   * Regression: an enum-typed value must not accept a JSON number (Jackson's default reads it as
   * the constant's ordinal); Json's mapper enables {@code FAIL_ON_NUMBERS_FOR_ENUMS}.
   */
  @Test
  void enumValuesRejectNumbers() {
    fails(ErrorCode.INVALID_VALUE, ctx -> ctx.table("settings").set("mode", 1));
  }

  @Test
  void unknownTable() {
    MutationOutcome.Failed f = fails(ErrorCode.UNKNOWN_TABLE, ctx -> ctx.table("nope").get("k"));
    assertTrue(f.message().contains("nope"), f.message());
    fails(ErrorCode.UNKNOWN_TABLE, ctx -> ctx.privateOfUser("u1").table("nope"));
    fails(ErrorCode.UNKNOWN_TABLE, ctx -> ctx.serverOnly().table("nope"));
  }

  // ---------------------------------------------------------------- writes

  @Test
  void writesPerMutation() {
    // "ok" (written by the harness) + 2 more = 3 distinct entries: fine, however often each is rewritten
    MutationOutcome ok = run(ctx -> {
      for (int i = 0; i < 10; i++) {
        ctx.table("items").set("a", F.numberNode(i));
        ctx.table("items").delete("b");
        ctx.table("items").set("ok", F.numberNode(i));
      }
    });
    assertEquals(3, applied(ok).writes().size());
    MutationOutcome.Failed f = fails(ErrorCode.TOO_MANY_WRITES, ctx -> {
      ctx.table("items").set("a", F.numberNode(1));
      ctx.table("items").set("b", F.numberNode(1));
      ctx.table("items").delete("c");
    });
    assertTrue(f.message().contains("3"), f.message());
    // the same item key in another tier or table is another entry
    fails(ErrorCode.TOO_MANY_WRITES, ctx -> {
      ctx.table("items").set("a", F.numberNode(1));
      ctx.privateOfUser("u1").table("items").set("a", F.numberNode(1));
      ctx.serverOnly().table("items").set("a", F.numberNode(1));
    });
  }

  // ---------------------------------------------------------------- input

  @Test
  void inputSizeInUtf8Bytes() {
    // run takes any JSON; a string input of n chars is n + 2 bytes
    body.set(ctx -> { });
    applied(executor.run(store, invocation("run", F.textNode(chars('i', 126)), "u1")));
    MutationOutcome.Failed f = failed(executor.run(store, invocation("run", F.textNode(chars('i', 127)), "u1")), ErrorCode.INPUT_TOO_LARGE);
    assertTrue(f.message().contains("129") && f.message().contains("128"), f.message());
    failed(executor.run(store, invocation("run", F.textNode(chars('é', 64)), "u1")), ErrorCode.INPUT_TOO_LARGE);
    assertEquals(128, Json.byteSize(F.textNode(chars('i', 126))));
  }

  @Test
  void inputMustBePlainJson() {
    body.set(ctx -> { });
    applied(executor.run(store, invocation("run", nested(4), "u1")));
    failed(executor.run(store, invocation("run", nested(5), "u1")), ErrorCode.NOT_JSON);
    failed(executor.run(store, invocation("run", F.objectNode().put("x", Double.NaN), "u1")), ErrorCode.NOT_JSON);
    failed(executor.run(store, invocation("run", F.arrayNode().add(Float.NEGATIVE_INFINITY), "u1")), ErrorCode.NOT_JSON);
    failed(executor.run(store, invocation("run", null, "u1")), ErrorCode.INVALID_INPUT);
  }

  @Test
  void inputMustMatchTheInputType() {
    applied(executor.run(store, invocation("echo", json("{\"s\":\"a\",\"n\":1,\"list\":[]}"), "u1")));
    applied(executor.run(store, invocation("echo", json("{\"s\":\"a\",\"n\":1,\"b\":true,\"list\":[{\"x\":\"1\"}]}"), "u1")));
    String[][] bad = {
        {"{\"n\":1,\"list\":[]}", "s"},                                   // missing
        {"{\"s\":\"a\",\"n\":1}", "list"},                                 // missing
        {"{\"s\":\"a\",\"n\":1,\"list\":[{\"x\":\"1\"},{}]}", "list[1].x"}, // missing, nested
        {"{\"s\":5,\"n\":1,\"list\":[]}", "s"},                            // number for a string
        {"{\"s\":true,\"n\":1,\"list\":[]}", "s"},                         // boolean for a string
        {"{\"s\":\"a\",\"n\":\"1\",\"list\":[]}", "n"},                    // string for a number
        {"{\"s\":\"a\",\"n\":1.5,\"list\":[]}", "n"},                      // float for an int
        {"{\"s\":\"a\",\"n\":null,\"list\":[]}", "n"},                     // null for a primitive
        {"{\"s\":\"a\",\"n\":1,\"b\":\"yes\",\"list\":[]}", "b"},          // string for a boolean
        {"{\"s\":\"a\",\"n\":1,\"b\":\"true\",\"list\":[]}", "b"},         // no scalar coercion
        {"{\"s\":\"a\",\"n\":1,\"list\":[],\"extra\":1}", "extra"},        // unknown field
        {"{\"s\":\"a\",\"n\":1,\"list\":{}}", "list"},                     // object for an array
    };
    for (String[] c : bad) {
      MutationOutcome.Failed f = failed(executor.run(store, invocation("echo", json(c[0]), "u1")), ErrorCode.INVALID_INPUT);
      assertTrue(f.message().contains("'" + c[1] + "'"), c[0] + " -> " + f.message());
    }
    failed(executor.run(store, invocation("echo", json("[1]"), "u1")), ErrorCode.INVALID_INPUT);
    failed(executor.run(store, invocation("echo", json("\"text\""), "u1")), ErrorCode.INVALID_INPUT);
  }

  @Test
  void unknownMutator() {
    MutationOutcome.Failed f = failed(executor.run(store, invocation("nope", F.objectNode(), "u1")), ErrorCode.UNKNOWN_MUTATOR);
    assertTrue(f.message().contains("nope"), f.message());
  }

  @Test
  void throwingMutator() {
    MutationOutcome.Failed f = fails(ErrorCode.MUTATOR_FAILED, ctx -> {
      throw new IllegalArgumentException("the todo is locked");
    });
    assertTrue(f.message().contains("the todo is locked"), f.message());
    assertTrue(f.message().contains("run"), f.message());
    // without a message the exception class names the problem
    f = fails(ErrorCode.MUTATOR_FAILED, ctx -> {
      throw new UnsupportedOperationException();
    });
    assertTrue(f.message().contains("UnsupportedOperationException"), f.message());
    // a SyncException keeps its own code
    fails(ErrorCode.TIER_VIOLATION, ctx -> {
      throw new io.syncedstore.api.SyncException(ErrorCode.TIER_VIOLATION, "mine");
    });
  }
}
