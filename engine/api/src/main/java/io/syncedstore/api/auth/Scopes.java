package io.syncedstore.api.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.SyncException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Sync scopes ({@code docs/SECURITY.md}, "Scopes"): the tables a principal may see and write, each
 * with the field values its rows must have. {@code {"responses": {"formId": "f1"}}} lets the
 * principal see and write only rows of {@code responses} whose value has {@code formId == "f1"};
 * every other table, public, private or system, is invisible to it. A table listed with no fields
 * is visible whole.
 *
 * <p>A principal without scopes ({@code null}, see {@link Principal#scopes()}) is not restricted
 * by them. The string {@value #USER_ID} as a field's value stands for the principal's user id
 * ({@link #bind(String)}), so one configured scope can confine each anonymous user to their own rows.
 *
 * @param tables table name to the fields its rows must match; immutable
 */
public record Scopes(Map<String, Map<String, JsonNode>> tables) {
  /** The placeholder for the principal's own user id in a field value. */
  public static final String USER_ID = "$userId";

  /** Copies {@code tables} into an immutable, ordered map. */
  public Scopes {
    Map<String, Map<String, JsonNode>> copy = new TreeMap<>();
    tables.forEach((table, fields) -> copy.put(table, Collections.unmodifiableMap(new TreeMap<>(fields))));
    tables = Collections.unmodifiableMap(copy);
  }

  /**
   * @param json an object of table name to an object of field to value, as in a token's
   *     {@code scopes} claim or the {@code anonymous-scopes} setting
   * @return the scopes
   * @throws SyncException {@link ErrorCode#BAD_REQUEST} when {@code json} has another shape
   */
  public static Scopes fromJson(JsonNode json) {
    if (json == null || !json.isObject()) {
      throw new SyncException(ErrorCode.BAD_REQUEST, "scopes must be an object of table name to an object of field values");
    }
    Map<String, Map<String, JsonNode>> tables = new LinkedHashMap<>();
    var it = json.fields();
    while (it.hasNext()) {
      var table = it.next();
      if (!table.getValue().isObject()) {
        throw new SyncException(ErrorCode.BAD_REQUEST, "the scope of table '" + table.getKey() + "' must be an object of field values");
      }
      Map<String, JsonNode> fields = new LinkedHashMap<>();
      table.getValue().fields().forEachRemaining(f -> {
        if (f.getValue().isContainerNode()) {
          throw new SyncException(ErrorCode.BAD_REQUEST, "scope field '" + table.getKey() + "." + f.getKey() + "' must be a string, number, boolean or null");
        }
        fields.put(f.getKey(), f.getValue());
      });
      tables.put(table.getKey(), fields);
    }
    return new Scopes(tables);
  }

  /** @return the scopes as JSON, the shape {@link #fromJson} reads */
  public JsonNode toJson() {
    var root = JsonNodeFactory.instance.objectNode();
    tables.forEach((table, fields) -> {
      var node = root.putObject(table);
      fields.forEach(node::set);
    });
    return root;
  }

  /** @return these scopes with {@value #USER_ID} replaced by {@code userId} */
  public Scopes bind(String userId) {
    Map<String, Map<String, JsonNode>> bound = new LinkedHashMap<>();
    tables.forEach((table, fields) -> {
      Map<String, JsonNode> b = new LinkedHashMap<>();
      fields.forEach((field, value) -> b.put(field,
          value.isTextual() && USER_ID.equals(value.textValue()) ? JsonNodeFactory.instance.textNode(userId) : value));
      bound.put(table, b);
    });
    return new Scopes(bound);
  }

  /** @return whether rows of {@code table} may be visible at all */
  public boolean coversTable(String table) {
    return tables.containsKey(table);
  }

  /** @return whether a row of {@code table} holding {@code value} is within these scopes */
  public boolean covers(String table, JsonNode value) {
    Map<String, JsonNode> fields = tables.get(table);
    if (fields == null) {
      return false;
    }
    if (fields.isEmpty()) {
      return true;
    }
    if (value == null || !value.isObject()) {
      return false;
    }
    for (Map.Entry<String, JsonNode> f : fields.entrySet()) {
      JsonNode actual = value.get(f.getKey());
      if (actual == null || !Values.sameScalar(actual, f.getValue())) {
        return false;
      }
    }
    return true;
  }

  /**
   * @return a short digest of these scopes: a client's cookie carries it, so a client that comes
   *     back with other scopes is sent its whole view again rather than changes it cannot apply
   */
  public String fingerprint() {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(Json.mapper().writeValueAsString(toJson()).getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest, 0, 8);
    } catch (NoSuchAlgorithmException | com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Scalar comparison: numbers by value ({@code 1} equals {@code 1.0}), everything else by equality. */
  private static final class Values {
    static boolean sameScalar(JsonNode a, JsonNode b) {
      if (a.isNumber() && b.isNumber()) {
        return a.decimalValue().compareTo(b.decimalValue()) == 0;
      }
      return a.equals(b);
    }
  }
}
