package io.syncedstore.api;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One entry of a table as seen by app code: its keys and its JSON value. The value is the
 * caller's own copy.
 *
 * @param sortKey the sort key, {@code ""} when unused
 * @param itemKey the item key
 * @param value the JSON value
 */
public record Entry(String sortKey, String itemKey, JsonNode value) {
  /** @return the entry's position, usable as a scan cursor */
  public EntryKey key() {
    return new EntryKey(sortKey, itemKey);
  }

  /**
   * @param type the record or class to map the value to
   * @return the value mapped to {@code type}
   */
  public <T> T value(Class<T> type) {
    return Values.convert(value, type, itemKey);
  }
}
