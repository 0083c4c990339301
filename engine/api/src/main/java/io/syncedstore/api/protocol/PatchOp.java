package io.syncedstore.api.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;

/**
 * One operation of a patch: {@code put} an entry, {@code del} an entry, or {@code clear}
 * everything the client holds. A wire type, never persisted.
 *
 * @param op {@code "put"}, {@code "del"} or {@code "clear"}
 * @param tier {@code "public"} or {@code "private"} (the receiving user's own tier)
 * @param table the table
 * @param itemKey the item key
 * @param sortKey the sort key (puts only)
 * @param value the value (puts only)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record PatchOp(String op, String tier, String table, String itemKey, String sortKey, JsonNode value) {
  /** The op that clears the client's replica. */
  public static final PatchOp CLEAR = new PatchOp("clear", null, null, null, null, null);

  /** @return a put */
  public static PatchOp put(String tier, String table, String itemKey, String sortKey, JsonNode value) {
    return new PatchOp("put", tier, table, itemKey, sortKey, value);
  }

  /** @return a delete */
  public static PatchOp del(String tier, String table, String itemKey) {
    return new PatchOp("del", tier, table, itemKey, null, null);
  }
}
