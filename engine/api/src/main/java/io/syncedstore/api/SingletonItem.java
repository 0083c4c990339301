package io.syncedstore.api;

/**
 * One fixed key of a singleton table and the type of its value; made with
 * {@link AppDefinition#item(String, Class)}.
 *
 * @param key the item key
 * @param type the value type
 */
public record SingletonItem<T>(String key, Class<T> type) {}
