package io.syncedstore.examples.todo;

import static io.syncedstore.api.AppDefinition.item;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.Table;
import java.util.Optional;

/**
 * The todo example app. Its contract is fixed (compatibility tests and load tests depend on it):
 *
 * <ul>
 *   <li>table {@code todos}: item key = id, value {@code {id, text, done, updatedAt}};
 *   <li>singleton table {@code settings}: {@code theme} ("light" | "dark"), {@code pageSize} (number);
 *   <li>{@code setTodo({id, text, done?, updatedAt})}: {@code done} defaults to the existing value, else false;
 *   <li>{@code removeTodo({id})};
 *   <li>action {@code countTodos({})}: {@code {total, done}}.
 * </ul>
 */
public final class TodoApp {
  private TodoApp() {}

  /**
   * A todo as stored.
   *
   * @param id its id, also the item key
   * @param text the text
   * @param done whether it is done
   * @param updatedAt when it was last changed, epoch milliseconds
   */
  public record Todo(String id, String text, boolean done, long updatedAt) {}

  /** The colour theme of the {@code settings} table. */
  public enum Theme {
    /** Light. */
    @JsonProperty("light") LIGHT,
    /** Dark. */
    @JsonProperty("dark") DARK
  }

  /**
   * Input of {@code setTodo}.
   *
   * @param id the todo's id
   * @param text its text
   * @param done whether it is done; absent keeps the current value (false for a new todo)
   * @param updatedAt the client's time of the change
   */
  public record SetTodo(String id, String text, Optional<Boolean> done, long updatedAt) {}

  /**
   * Input of {@code removeTodo}.
   *
   * @param id the todo to remove
   */
  public record RemoveTodo(String id) {}

  /** Input of the action {@code countTodos}: none. */
  public record CountTodos() {}

  /**
   * Output of {@code countTodos}.
   *
   * @param total todos in the instance
   * @param done of which done
   */
  public record TodoCount(int total, int done) {}

  /** The app definition. */
  public static final AppDefinition DEFINITION = AppDefinition.builder("todo").schemaVersion(1)
      .table("todos", Todo.class)
      .singletonTable("settings", item("theme", Theme.class), item("pageSize", Integer.class))
      .mutator("setTodo", SetTodo.class, (ctx, in) -> {
        Table todos = ctx.table("todos");
        boolean done = in.done().orElseGet(() -> todos.get(in.id(), Todo.class).map(Todo::done).orElse(false));
        todos.set(in.id(), new Todo(in.id(), in.text(), done, in.updatedAt()));
      })
      .mutator("removeTodo", RemoveTodo.class, (ctx, in) -> ctx.table("todos").delete(in.id()))
      .action("countTodos", CountTodos.class, TodoCount.class, (ctx, in) -> {
        int done = 0;
        java.util.List<Todo> all = ctx.table("todos").values(Todo.class);
        for (Todo t : all) {
          done += t.done() ? 1 : 0;
        }
        return new TodoCount(all.size(), done);
      })
      .build();
}
