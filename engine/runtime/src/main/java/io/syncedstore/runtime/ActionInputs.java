package io.syncedstore.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.ActionDefinition;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.Values;

/** Checks an action's input as a mutator's is checked: plain JSON, within the app's size limit, of the declared type. */
final class ActionInputs {
  private ActionInputs() {}

  static Object convert(AppDefinition app, ActionDefinition<?, ?> def, JsonNode input) {
    String what = "input of action " + def.name();
    if (input == null) {
      throw new SyncException(ErrorCode.INVALID_INPUT, what + ": missing");
    }
    Values.checkPlainJson(input, app.limits().maxJsonDepth(), what);
    int size = Json.byteSize(input);
    if (size > app.limits().maxInputBytes()) {
      throw new SyncException(ErrorCode.INPUT_TOO_LARGE, what + " is " + size + " bytes, over the limit of " + app.limits().maxInputBytes());
    }
    return Values.convert(input, def.inputType(), what);
  }
}
