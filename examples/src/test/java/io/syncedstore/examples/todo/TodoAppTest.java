package io.syncedstore.examples.todo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.AppProvider;
import io.syncedstore.api.Json;
import io.syncedstore.api.ScanOptions;
import io.syncedstore.api.TableDefinition;
import io.syncedstore.api.Values;
import io.syncedstore.api.exec.MutationExecutor;
import io.syncedstore.api.exec.MutationInvocation;
import io.syncedstore.api.exec.MutationOutcome;
import io.syncedstore.api.store.EntryStore;
import io.syncedstore.api.store.Row;
import io.syncedstore.api.store.Scans;
import io.syncedstore.api.store.TableAddress;
import io.syncedstore.api.store.Write;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The todo app's fixed contract, run through the executor and chained through an {@link EntryStore}. */
class TodoAppTest {
  private static final JsonNodeFactory F = JsonNodeFactory.instance;
  private static final TableAddress TODOS = TableAddress.publicTable("todos");

  private final MutationExecutor server = new MutationExecutor(TodoApp.DEFINITION, true);
  private final MutationExecutor client = new MutationExecutor(TodoApp.DEFINITION, false);
  private EntryStore store;
  private long version;
  private long mutationId;

  @BeforeEach
  void setUp() {
    store = new EntryStore();
    version = 0;
    mutationId = 0;
  }

  static JsonNode json(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (Exception e) {
      throw new IllegalArgumentException(text, e);
    }
  }

  /** Runs a mutation on the server and applies its writes as the next version. */
  private List<Write> push(String name, String args) {
    MutationInvocation inv = new MutationInvocation("c1", ++mutationId, name, json(args), "u1", 1_000L + mutationId);
    MutationOutcome outcome = server.run(store, inv);
    MutationOutcome.Applied applied = assertInstanceOf(MutationOutcome.Applied.class, outcome, () -> "got " + outcome);
    // the client's optimistic run produces the same writes from the same state
    assertEquals(applied, client.run(store, inv), "client and server disagree");
    version++;
    for (Write w : applied.writes()) {
      store.apply(w, version);
    }
    return applied.writes();
  }

  private JsonNode todo(String id) {
    Row row = store.get(TODOS, id);
    return row == null ? null : row.value();
  }

  /** Compares as JSON text: a stored long and a parsed small int are different node types. */
  private static void assertTodo(String expected, JsonNode actual) {
    assertEquals(expected, Json.text(actual));
  }

  @Test
  void setTodoCreatesATodo() {
    List<Write> writes = push("setTodo", "{\"id\":\"t1\",\"text\":\"buy milk\",\"updatedAt\":1700000000000}");
    assertEquals(List.of(Write.put(TODOS, "t1", "",
        json("{\"id\":\"t1\",\"text\":\"buy milk\",\"done\":false,\"updatedAt\":1700000000000}"))), writes);
    // exactly these four fields, nothing else
    assertTodo("{\"id\":\"t1\",\"text\":\"buy milk\",\"done\":false,\"updatedAt\":1700000000000}", todo("t1"));
    assertEquals(new TodoApp.Todo("t1", "buy milk", false, 1700000000000L), Values.convert(todo("t1"), TodoApp.Todo.class, "t1"));
    assertEquals(1, store.get(TODOS, "t1").version());
  }

  @Test
  void doneIsKeptWhenAbsentAndSetWhenGiven() {
    push("setTodo", "{\"id\":\"t1\",\"text\":\"a\",\"done\":true,\"updatedAt\":1}");
    assertTrue(todo("t1").get("done").asBoolean());

    // no "done": read-before-write keeps true, while text and updatedAt change
    push("setTodo", "{\"id\":\"t1\",\"text\":\"b\",\"updatedAt\":2}");
    assertTodo("{\"id\":\"t1\",\"text\":\"b\",\"done\":true,\"updatedAt\":2}", todo("t1"));

    // null counts as absent
    push("setTodo", "{\"id\":\"t1\",\"text\":\"c\",\"done\":null,\"updatedAt\":3}");
    assertEquals(true, todo("t1").get("done").booleanValue());

    // explicit false sets false, and it stays false
    push("setTodo", "{\"id\":\"t1\",\"text\":\"d\",\"done\":false,\"updatedAt\":4}");
    assertEquals(false, todo("t1").get("done").booleanValue());
    push("setTodo", "{\"id\":\"t1\",\"text\":\"e\",\"updatedAt\":5}");
    assertTodo("{\"id\":\"t1\",\"text\":\"e\",\"done\":false,\"updatedAt\":5}", todo("t1"));

    // another todo is not affected by t1's state
    push("setTodo", "{\"id\":\"t2\",\"text\":\"x\",\"done\":true,\"updatedAt\":6}");
    push("setTodo", "{\"id\":\"t1\",\"text\":\"f\",\"updatedAt\":7}");
    assertEquals(false, todo("t1").get("done").booleanValue());
    assertEquals(true, todo("t2").get("done").booleanValue());
  }

  @Test
  void removeTodoDeletes() {
    push("setTodo", "{\"id\":\"t1\",\"text\":\"a\",\"updatedAt\":1}");
    push("setTodo", "{\"id\":\"t2\",\"text\":\"b\",\"updatedAt\":2}");
    List<Write> writes = push("removeTodo", "{\"id\":\"t1\"}");
    assertEquals(List.of(Write.delete(TODOS, "t1")), writes);
    assertNull(todo("t1"));
    assertTrue(store.getWithTombstone(TODOS, "t1").isDeleted());
    assertEquals(List.of("t2"), Scans.scan(store, TODOS, ScanOptions.all()).stream().map(Row::itemKey).toList());

    // removing an absent todo is not an error
    assertEquals(List.of(Write.delete(TODOS, "nope")), push("removeTodo", "{\"id\":\"nope\"}"));

    // a removed todo comes back as new: done defaults to false again
    push("setTodo", "{\"id\":\"t3\",\"text\":\"c\",\"done\":true,\"updatedAt\":3}");
    push("removeTodo", "{\"id\":\"t3\"}");
    push("setTodo", "{\"id\":\"t3\",\"text\":\"c again\",\"updatedAt\":4}");
    assertTodo("{\"id\":\"t3\",\"text\":\"c again\",\"done\":false,\"updatedAt\":4}", todo("t3"));
  }

  @Test
  void todosAreOrderedById() {
    for (String id : List.of("t3", "t1", "t2")) {
      push("setTodo", "{\"id\":\"" + id + "\",\"text\":\"x\",\"updatedAt\":1}");
    }
    assertEquals(List.of("t1", "t2", "t3"), Scans.scan(store, TODOS, ScanOptions.all()).stream().map(Row::itemKey).toList());
  }

  @Test
  void definitionMatchesTheContract() {
    AppDefinition def = TodoApp.DEFINITION;
    assertEquals("todo", def.name());
    assertEquals(1, def.schemaVersion());
    assertEquals(List.of("todos", "settings"), List.copyOf(def.tables().keySet()));
    TableDefinition todos = def.tables().get("todos");
    assertEquals(TodoApp.Todo.class, todos.valueType());
    assertEquals(false, todos.isSingleton());
    TableDefinition settings = def.tables().get("settings");
    assertTrue(settings.isSingleton());
    assertEquals(List.of("theme", "pageSize"), List.copyOf(settings.items().keySet()));
    assertEquals(Map.of("theme", TodoApp.Theme.class, "pageSize", Integer.class), settings.items());
    assertEquals(List.of("setTodo", "removeTodo"), List.copyOf(def.mutators().keySet()));
    assertEquals(TodoApp.SetTodo.class, def.mutator("setTodo").orElseThrow().inputType());
    assertEquals(TodoApp.RemoveTodo.class, def.mutator("removeTodo").orElseThrow().inputType());
  }

  @Test
  void themeIsLightOrDarkOnTheWire() {
    assertEquals(F.textNode("light"), Json.mapper().valueToTree(TodoApp.Theme.LIGHT));
    assertEquals(F.textNode("dark"), Json.mapper().valueToTree(TodoApp.Theme.DARK));
    assertEquals(TodoApp.Theme.DARK, Values.convert(F.textNode("dark"), TodoApp.Theme.class, "theme"));
    assertEquals(TodoApp.Theme.LIGHT, Values.convert(F.textNode("light"), TodoApp.Theme.class, "theme"));
  }

  @Test
  void theExampleAppsAreFoundByTheServiceLoader() {
    List<String> names = ServiceLoader.load(AppProvider.class).stream()
        .flatMap(p -> p.get().apps().stream()).map(AppDefinition::name).toList();
    assertTrue(names.contains("todo"), names.toString());
  }
}
