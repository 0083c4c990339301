package io.syncedstore.api;

import java.util.Map;

/**
 * A declared table: either dynamic item keys with one value type, or a singleton table with a
 * fixed set of keys, each with its own type. A table exists in every tier; the tier is chosen
 * when it is used ({@code ctx.table}, {@code ctx.privateOfUser(u).table}, {@code ctx.serverOnly().table}).
 *
 * @param name the table name
 * @param valueType the value type of a dynamic table; {@code null} for a singleton table
 * @param items the declared keys of a singleton table, in declaration order; empty for a dynamic table
 */
public record TableDefinition(String name, Class<?> valueType, Map<String, Class<?>> items) {
  /** @return whether this table has a fixed set of item keys */
  public boolean isSingleton() {
    return valueType == null;
  }

  /**
   * @return the value type for {@code itemKey}
   * @throws SyncException {@link ErrorCode#UNKNOWN_ITEM} when a singleton table does not declare it
   */
  public Class<?> valueTypeOf(String itemKey) {
    if (valueType != null) {
      return valueType;
    }
    Class<?> type = items.get(itemKey);
    if (type == null) {
      throw new SyncException(ErrorCode.UNKNOWN_ITEM,
          "singleton table '" + name + "' has no item '" + itemKey + "'; declared: " + items.keySet());
    }
    return type;
  }
}
