package io.syncedstore.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.datatype.jdk8.Jdk8Module;
import java.nio.charset.StandardCharsets;

/**
 * The one configured {@link ObjectMapper} for app values, mutation inputs and wire messages.
 * Strict on input: unknown fields, nulls for primitives, floats for integers and scalar coercions
 * ({@code "1"} for a number, {@code 1} for a string, {@code 0} for an enum) are errors, so the server and the client
 * accept exactly the same inputs.
 */
public final class Json {
  private static final ObjectMapper MAPPER = create();

  private Json() {}

  /** @return the shared mapper; thread-safe, do not reconfigure it */
  public static ObjectMapper mapper() {
    return MAPPER;
  }

  private static ObjectMapper create() {
    JsonMapper mapper = JsonMapper.builder()
        .addModule(new Jdk8Module())
        .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
        .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
        .enable(DeserializationFeature.FAIL_ON_NUMBERS_FOR_ENUMS)
        // decimals stay exact; the journal's reader is configured the same (engine/runtime reference.conf)
        .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
        // ...and keep their scale: 1.0 stays 1.0. Stripped to 1 it would be written as 1 and read
        // back, from the journal or from another node, as an integer, which a mutator's int
        // field accepts where the original 1.0 is refused: one mutation, two outcomes.
        .configure(com.fasterxml.jackson.databind.cfg.JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES, false)
        .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
        .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
        .build();
    mapper.coercionConfigFor(LogicalType.Textual)
        .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
        .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
        .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail);
    return mapper;
  }

  /** @return the UTF-8 JSON encoding of {@code node} */
  public static byte[] bytes(JsonNode node) {
    try {
      return MAPPER.writeValueAsBytes(node);
    } catch (JsonProcessingException e) {
      throw new SyncException(ErrorCode.NOT_JSON, "value cannot be written as JSON: " + e.getOriginalMessage());
    }
  }

  /** @return the size of {@code node} as UTF-8 JSON */
  public static int byteSize(JsonNode node) {
    return bytes(node).length;
  }

  /** @return {@code node} as compact JSON text */
  public static String text(JsonNode node) {
    return new String(bytes(node), StandardCharsets.UTF_8);
  }
}
