package io.syncedstore.runtime;

/**
 * Marker for everything Pekko serializes: persisted events and snapshots, and messages that may
 * cross nodes. Bound once to Pekko's Jackson JSON serializer in this module's
 * {@code reference.conf}; Java serialization stays off.
 */
public interface JsonSerializable {}
