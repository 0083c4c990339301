package io.syncedstore.runtime.journal;

/**
 * The first event of an instance's log.
 *
 * @param epoch a random id for this life of the log; cookies carry it
 * @param app the app name
 * @param schemaVersion the app's schema version at creation
 * @param timestamp server time at creation, epoch milliseconds
 */
public record InstanceCreated(String epoch, String app, int schemaVersion, long timestamp) implements InstanceEvent {}
