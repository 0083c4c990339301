package io.syncedstore.api;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Optional;

/** Reads of one table in one tier. Every value returned is the caller's own copy. */
public interface ReadTable {
  /** @return the table name */
  String name();

  /** @return the value of {@code itemKey}, if present */
  Optional<JsonNode> get(String itemKey);

  /** @return the value of {@code itemKey} mapped to {@code type}, if present */
  <T> Optional<T> get(String itemKey, Class<T> type);

  /** @return whether {@code itemKey} is present */
  boolean has(String itemKey);

  /** @return every entry, in key order */
  default List<Entry> entries() {
    return scan(ScanOptions.all());
  }

  /** @return every item key, in entry order */
  default List<String> keys() {
    return entries().stream().map(Entry::itemKey).toList();
  }

  /** @return every value, in entry order */
  default List<JsonNode> values() {
    return entries().stream().map(Entry::value).toList();
  }

  /** @return every value mapped to {@code type}, in entry order */
  default <T> List<T> values(Class<T> type) {
    return entries().stream().map(e -> e.value(type)).toList();
  }

  /** @return the entries {@code options} select, in ascending key order */
  List<Entry> scan(ScanOptions options);
}
