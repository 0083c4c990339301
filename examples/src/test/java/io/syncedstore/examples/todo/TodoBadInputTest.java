package io.syncedstore.examples.todo;

import static io.syncedstore.api.AppDefinition.item;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.Limits;
import io.syncedstore.api.MutationContext;
import io.syncedstore.api.exec.MutationExecutor;
import io.syncedstore.api.exec.MutationInvocation;
import io.syncedstore.api.exec.MutationOutcome;
import io.syncedstore.api.store.EntryStore;
import io.syncedstore.api.store.Write;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Bad input to the todo app through {@link MutationExecutor}: every case fails with its own
 * {@link ErrorCode}, produces no writes, and leaves the store as it was.
 */
class TodoBadInputTest {
  private static final JsonNodeFactory F = JsonNodeFactory.instance;

  private EntryStore store;
  private Set<String> before;

  @BeforeEach
  void setUp() {
    // a store that already holds a todo and a setting, written through the app itself
    store = new EntryStore();
    MutationOutcome outcome = new MutationExecutor(TodoApp.DEFINITION, true).run(store,
        invocation("setTodo", TodoAppTest.json("{\"id\":\"t1\",\"text\":\"existing\",\"done\":true,\"updatedAt\":1}")));
    for (Write w : ((MutationOutcome.Applied) outcome).writes()) {
      store.apply(w, 1);
    }
    store.apply(Write.put(io.syncedstore.api.store.TableAddress.publicTable("settings"), "theme", "", F.textNode("dark")), 2);
    before = snapshot(store);
  }

  @AfterEach
  void storeUnchanged() {
    assertEquals(before, snapshot(store), "a failed mutation changed the store");
  }

  private static Set<String> snapshot(EntryStore store) {
    Set<String> out = new HashSet<>();
    for (EntryStore.StoredRow row : store.export().rows()) {
      out.add(row.write().address() + "/" + row.write().itemKey() + "@" + row.version() + "="
          + (row.write().value() == null ? "deleted" : Json.text(row.write().value())));
    }
    out.add("horizon=" + store.horizon());
    return out;
  }

  private static MutationInvocation invocation(String name, JsonNode args) {
    return new MutationInvocation("c1", 1, name, args, "u1", 1_000L);
  }

  /** Runs on the server and on the client; both must fail the same way with no writes. */
  private MutationOutcome.Failed fails(AppDefinition app, String name, JsonNode args, ErrorCode code) {
    MutationOutcome.Failed result = null;
    for (boolean isServer : new boolean[] {true, false}) {
      MutationOutcome outcome = new MutationExecutor(app, isServer).run(store, invocation(name, args));
      // Failed carries no writes at all: only Applied has a write set
      MutationOutcome.Failed f = assertInstanceOf(MutationOutcome.Failed.class, outcome,
          () -> name + " " + args + " should fail with " + code + (isServer ? " on the server" : " on the client") + ", got " + outcome);
      assertEquals(code, f.code(), f.message());
      assertTrue(f.message() != null && !f.message().isBlank());
      result = f;
    }
    return result;
  }

  private MutationOutcome.Failed fails(String name, String args, ErrorCode code) {
    return fails(TodoApp.DEFINITION, name, TodoAppTest.json(args), code);
  }

  private static void assertNames(MutationOutcome.Failed f, String field) {
    assertTrue(f.message().contains("'" + field + "'"), "message should name " + field + ": " + f.message());
  }

  private static ObjectNode setTodo(String id, String text) {
    return F.objectNode().put("id", id).put("text", text).put("updatedAt", 5);
  }

  // ---------------------------------------------------------------- input, with the real app

  @Test
  void unknownMutator() {
    MutationOutcome.Failed f = fails("deleteAll", "{}", ErrorCode.UNKNOWN_MUTATOR);
    assertTrue(f.message().contains("deleteAll"), f.message());
  }

  @Test
  void missingField() {
    assertNames(fails("setTodo", "{\"id\":\"t1\",\"updatedAt\":5}", ErrorCode.INVALID_INPUT), "text");
    assertNames(fails("setTodo", "{\"id\":\"t1\",\"text\":null,\"updatedAt\":5}", ErrorCode.INVALID_INPUT), "text");
    assertNames(fails("setTodo", "{\"text\":\"x\",\"updatedAt\":5}", ErrorCode.INVALID_INPUT), "id");
    assertNames(fails("setTodo", "{\"id\":\"t1\",\"text\":\"x\"}", ErrorCode.INVALID_INPUT), "updatedAt");
    assertNames(fails("removeTodo", "{}", ErrorCode.INVALID_INPUT), "id");
  }

  @Test
  void wrongType() {
    assertNames(fails("setTodo", "{\"id\":\"t1\",\"text\":5,\"updatedAt\":5}", ErrorCode.INVALID_INPUT), "text");
    assertNames(fails("setTodo", "{\"id\":\"t1\",\"text\":\"x\",\"done\":\"yes\",\"updatedAt\":5}", ErrorCode.INVALID_INPUT), "done");
    assertNames(fails("setTodo", "{\"id\":\"t1\",\"text\":\"x\",\"done\":1,\"updatedAt\":5}", ErrorCode.INVALID_INPUT), "done");
    assertNames(fails("setTodo", "{\"id\":\"t1\",\"text\":\"x\",\"updatedAt\":\"5\"}", ErrorCode.INVALID_INPUT), "updatedAt");
    assertNames(fails("setTodo", "{\"id\":\"t1\",\"text\":\"x\",\"updatedAt\":5.5}", ErrorCode.INVALID_INPUT), "updatedAt");
    assertNames(fails("setTodo", "{\"id\":[\"t1\"],\"text\":\"x\",\"updatedAt\":5}", ErrorCode.INVALID_INPUT), "id");
    fails("setTodo", "[]", ErrorCode.INVALID_INPUT);
    fails("setTodo", "\"t1\"", ErrorCode.INVALID_INPUT);
    fails(TodoApp.DEFINITION, "setTodo", null, ErrorCode.INVALID_INPUT);
  }

  @Test
  void unknownField() {
    assertNames(fails("setTodo", "{\"id\":\"t1\",\"text\":\"x\",\"updatedAt\":5,\"priority\":1}", ErrorCode.INVALID_INPUT), "priority");
    assertNames(fails("removeTodo", "{\"id\":\"t1\",\"force\":true}", ErrorCode.INVALID_INPUT), "force");
  }

  @Test
  void inputTooLarge() {
    AppDefinition app = TodoApp.DEFINITION.withLimits(new Limits(512, 256 * 1024, 100, 1000, 32));
    // find the text length that makes the input exactly 100 bytes: that passes, one more byte fails
    int overhead = Json.byteSize(setTodo("t2", ""));
    ObjectNode atLimit = setTodo("t2", "x".repeat(100 - overhead));
    assertEquals(100, Json.byteSize(atLimit));
    MutationOutcome ok = new MutationExecutor(app, true).run(store, invocation("setTodo", atLimit));
    assertInstanceOf(MutationOutcome.Applied.class, ok, ok::toString);
    MutationOutcome.Failed f = fails(app, "setTodo", setTodo("t2", "x".repeat(101 - overhead)), ErrorCode.INPUT_TOO_LARGE);
    assertTrue(f.message().contains("100"), f.message());
    // bytes, not chars: 'é' is two bytes in UTF-8
    fails(app, "setTodo", setTodo("t2", "é".repeat((100 - overhead) / 2 + 1)), ErrorCode.INPUT_TOO_LARGE);
    // the default limit is 256 KiB
    fails(TodoApp.DEFINITION, "setTodo", setTodo("t2", "x".repeat(256 * 1024)), ErrorCode.INPUT_TOO_LARGE);
  }

  @Test
  void valueTooLarge() {
    AppDefinition app = TodoApp.DEFINITION.withLimits(new Limits(512, 80, 256 * 1024, 1000, 32));
    assertEquals(80, app.limits().maxValueBytes());
    assertEquals(TodoApp.DEFINITION.mutators().keySet(), app.mutators().keySet());
    MutationOutcome.Failed f = fails(app, "setTodo", setTodo("t2", "x".repeat(100)), ErrorCode.VALUE_TOO_LARGE);
    assertTrue(f.message().contains("80"), f.message());
    // a short text fits
    MutationOutcome ok = new MutationExecutor(app, true).run(store, invocation("setTodo", setTodo("t2", "short")));
    assertInstanceOf(MutationOutcome.Applied.class, ok, ok::toString);
  }

  @Test
  void keyTooLong() {
    MutationOutcome.Failed f = fails(TodoApp.DEFINITION, "setTodo", setTodo("k".repeat(513), "x"), ErrorCode.INVALID_KEY);
    assertTrue(f.message().contains("512"), f.message());
    fails(TodoApp.DEFINITION, "removeTodo", F.objectNode().put("id", "k".repeat(513)), ErrorCode.INVALID_KEY);
    fails(TodoApp.DEFINITION, "setTodo", setTodo("", "x"), ErrorCode.INVALID_KEY);
    // exactly 512 is fine
    MutationOutcome ok = new MutationExecutor(TodoApp.DEFINITION, true).run(store, invocation("setTodo", setTodo("k".repeat(512), "x")));
    assertInstanceOf(MutationOutcome.Applied.class, ok, ok::toString);
  }

  @Test
  void notJsonInput() {
    ObjectNode nan = setTodo("t2", "x");
    nan.put("updatedAt", Double.NaN);
    fails(TodoApp.DEFINITION, "setTodo", nan, ErrorCode.NOT_JSON);
    ObjectNode inf = setTodo("t2", "x");
    inf.set("extra", F.arrayNode().add(Double.POSITIVE_INFINITY));
    fails(TodoApp.DEFINITION, "setTodo", inf, ErrorCode.NOT_JSON);

    // 33 levels of nesting against the default depth of 32 (checked before the fields are)
    JsonNode deep = F.textNode("x");
    for (int i = 0; i < 32; i++) {
      ArrayNode a = F.arrayNode();
      a.add(deep);
      deep = a;
    }
    ObjectNode tooDeep = setTodo("t2", "x");
    tooDeep.set("extra", deep);
    assertTrue(fails(TodoApp.DEFINITION, "setTodo", tooDeep, ErrorCode.NOT_JSON).message().contains("32"));
    // one level less is valid JSON, and then fails only on the unknown field
    ObjectNode deepEnough = setTodo("t2", "x");
    deepEnough.set("extra", deep.get(0));
    assertNames(fails(TodoApp.DEFINITION, "setTodo", deepEnough, ErrorCode.INVALID_INPUT), "extra");
  }

  // ---------------------------------------------------------------- writes, with test mutators on the todo tables

  /** The todo app's tables with test-only mutators that write what the test says. */
  private static AppDefinition testApp(Limits limits, Consumer<MutationContext> body) {
    AppDefinition app = AppDefinition.builder("todo")
        .table("todos", TodoApp.Todo.class)
        .singletonTable("settings", item("theme", TodoApp.Theme.class), item("pageSize", Integer.class))
        .mutator("write", JsonNode.class, (ctx, in) -> {
          // something valid first, which must not survive the failure
          ctx.table("todos").set("t9", new TodoApp.Todo("t9", "valid", false, 9));
          body.accept(ctx);
        })
        .limits(limits)
        .build();
    assertEquals(TodoApp.DEFINITION.tables(), app.tables(), "the test app must have exactly the todo tables");
    return app;
  }

  private MutationOutcome.Failed writeFails(Limits limits, ErrorCode code, Consumer<MutationContext> body) {
    return fails(testApp(limits, body), "write", F.objectNode(), code);
  }

  @Test
  void tooManyWrites() {
    Limits three = new Limits(512, 256 * 1024, 256 * 1024, 3, 32);
    MutationOutcome.Failed f = writeFails(three, ErrorCode.TOO_MANY_WRITES, ctx -> {
      for (int i = 0; i < 3; i++) {
        ctx.table("todos").set("n" + i, new TodoApp.Todo("n" + i, "x", false, 1));
      }
    });
    assertTrue(f.message().contains("3"), f.message());
    // t9 + 2 more is exactly the limit
    MutationOutcome ok = new MutationExecutor(testApp(three, ctx -> {
      ctx.table("todos").set("n0", new TodoApp.Todo("n0", "x", false, 1));
      ctx.table("todos").delete("t1");
    }), true).run(store, invocation("write", F.objectNode()));
    assertEquals(3, assertInstanceOf(MutationOutcome.Applied.class, ok, ok::toString).writes().size());
  }

  @Test
  void notJsonValue() {
    writeFails(Limits.DEFAULT, ErrorCode.NOT_JSON, ctx -> ctx.table("settings").set("pageSize", Double.NaN));
    writeFails(Limits.DEFAULT, ErrorCode.NOT_JSON,
        ctx -> ctx.table("todos").set("t2", F.objectNode().put("id", "t2").put("text", "x").put("done", false).put("updatedAt", Double.NaN)));
    Limits shallow = new Limits(512, 256 * 1024, 256 * 1024, 1000, 2);
    writeFails(shallow, ErrorCode.NOT_JSON, ctx -> ctx.table("todos").set("t2",
        F.objectNode().put("id", "t2").put("done", false).put("updatedAt", 1).set("text", F.arrayNode().add(F.arrayNode()))));
  }

  @Test
  void unknownSingletonItem() {
    MutationOutcome.Failed f = writeFails(Limits.DEFAULT, ErrorCode.UNKNOWN_ITEM, ctx -> ctx.table("settings").set("language", "en"));
    assertTrue(f.message().contains("language"), f.message());
    writeFails(Limits.DEFAULT, ErrorCode.UNKNOWN_ITEM, ctx -> ctx.table("settings").delete("language"));
  }

  @Test
  void valueNotMatchingTheRecordType() {
    MutationOutcome.Failed f = writeFails(Limits.DEFAULT, ErrorCode.INVALID_VALUE,
        ctx -> ctx.table("todos").set("t2", F.objectNode().put("id", "t2").put("text", "x").put("updatedAt", 1)));
    assertNames(f, "done");
    assertNames(writeFails(Limits.DEFAULT, ErrorCode.INVALID_VALUE, ctx -> ctx.table("todos").set("t2",
        F.objectNode().put("id", "t2").put("text", "x").put("done", "no").put("updatedAt", 1))), "done");
    writeFails(Limits.DEFAULT, ErrorCode.INVALID_VALUE, ctx -> ctx.table("settings").set("theme", "blue"));
    writeFails(Limits.DEFAULT, ErrorCode.INVALID_VALUE, ctx -> ctx.table("settings").set("theme", "LIGHT"));
    writeFails(Limits.DEFAULT, ErrorCode.INVALID_VALUE, ctx -> ctx.table("settings").set("pageSize", "20"));
    writeFails(Limits.DEFAULT, ErrorCode.INVALID_VALUE, ctx -> ctx.table("settings").set("pageSize", 2.5));
  }

  @Test
  void settingsAcceptTheDeclaredValues() {
    for (Object theme : new Object[] {"light", "dark", TodoApp.Theme.DARK}) {
      MutationOutcome ok = new MutationExecutor(testApp(Limits.DEFAULT, ctx -> {
        ctx.table("settings").set("theme", theme);
        ctx.table("settings").set("pageSize", 50);
      }), true).run(store, invocation("write", F.objectNode()));
      assertInstanceOf(MutationOutcome.Applied.class, ok, ok::toString);
    }
  }

  /**
   * Regression: the todo contract says theme is "light" | "dark"; a number must not be accepted
   * as the enum's ordinal and stored verbatim.
   */
  @Test
  void themeRejectsNumbers() {
    writeFails(Limits.DEFAULT, ErrorCode.INVALID_VALUE, ctx -> ctx.table("settings").set("theme", 0));
  }

  @Test
  void throwingMutator() {
    MutationOutcome.Failed f = writeFails(Limits.DEFAULT, ErrorCode.MUTATOR_FAILED, ctx -> {
      throw new IllegalStateException("todo list is archived");
    });
    assertTrue(f.message().contains("todo list is archived"), f.message());
  }
}
