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
  List<Entry> entries();

  /** @return every item key, in entry order */
  List<String> keys();

  /** @return every value, in entry order */
  List<JsonNode> values();

  /** @return every value mapped to {@code type}, in entry order */
  <T> List<T> values(Class<T> type);

  /** @return the entries {@code options} select, in ascending key order */
  List<Entry> scan(ScanOptions options);
}
