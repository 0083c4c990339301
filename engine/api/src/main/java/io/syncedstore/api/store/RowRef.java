package io.syncedstore.api.store;

/**
 * A row's identity: table and item key.
 *
 * @param table the table
 * @param itemKey the item key
 */
public record RowRef(TableAddress table, String itemKey) {}
