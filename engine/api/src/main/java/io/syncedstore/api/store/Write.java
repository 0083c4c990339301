package io.syncedstore.api.store;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.Tier;

/**
 * One write of a mutation's write set: a put ({@code value != null}) or a delete. Write sets are
 * persisted in the operation log, so this shape is a long-lived contract: add fields, never
 * rename them.
 *
 * @param tier the tier written
 * @param owner the owning user of a private table, else {@code null}
 * @param table the table
 * @param itemKey the item key
 * @param sortKey the sort key ({@code ""} when unused or for a delete)
 * @param value the new value, or {@code null} for a delete
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Write(Tier tier, String owner, String table, String itemKey, String sortKey, JsonNode value) {

  /** @return a put of {@code value} at {@code (sortKey, itemKey)} in {@code address} */
  public static Write put(TableAddress address, String itemKey, String sortKey, JsonNode value) {
    return new Write(address.tier(), address.owner(), address.table(), itemKey, sortKey, value);
  }

  /** @return a delete of {@code itemKey} in {@code address} */
  public static Write delete(TableAddress address, String itemKey) {
    return new Write(address.tier(), address.owner(), address.table(), itemKey, "", null);
  }

  /** @return the table written */
  @JsonIgnore
  public TableAddress address() {
    return new TableAddress(tier, owner, table);
  }

  /** @return whether this write deletes its entry */
  @JsonIgnore
  public boolean isDelete() {
    return value == null;
  }
}
