package io.syncedstore.runtime.platform;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.PlatformService;
import io.syncedstore.api.SyncException;
import java.util.Set;
import java.util.function.Function;

/**
 * {@code env.get}: input {@code {"name": "OPENAI_API_KEY"}}, output {@code {"value": "..."}}
 * ({@code null} when unset). Only variables named in {@code synced-store.platform.env.allow}.
 */
final class EnvService implements PlatformService {
  private final Set<String> allowed;
  private final Function<String, String> env;

  EnvService(Set<String> allowed, Function<String, String> env) {
    this.allowed = allowed;
    this.env = env;
  }

  @Override
  public JsonNode call(Call call) {
    JsonNode name = call.input().get("name");
    if (name == null || !name.isTextual()) {
      throw new SyncException(ErrorCode.INVALID_INPUT, "env.get needs {\"name\": \"VARIABLE\"}");
    }
    if (!allowed.contains(name.asText())) {
      throw new SyncException(ErrorCode.SERVICE_REFUSED, "environment variable '" + name.asText()
          + "' is not in synced-store.platform.env.allow");
    }
    return Json.mapper().createObjectNode().put("value", env.apply(name.asText()));
  }
}
