package io.syncedstore.examples;

import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.AppProvider;
import io.syncedstore.examples.forms.FormsApp;
import io.syncedstore.examples.todo.TodoApp;
import java.util.List;

/** Serves the example apps to any server that has this jar on its class path. */
public final class ExampleApps implements AppProvider {
  @Override
  public List<AppDefinition> apps() {
    return List.of(TodoApp.DEFINITION, FormsApp.DEFINITION);
  }
}
