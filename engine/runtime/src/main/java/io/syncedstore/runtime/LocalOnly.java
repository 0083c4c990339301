package io.syncedstore.runtime;

/**
 * Marks messages that never leave their node: an instance's messages to itself, to its children
 * (sessions, action workers) and from them. They may hold what cannot be serialized (functions,
 * exceptions, the state); Pekko's serialization checks ({@code serialize-messages = on}) and
 * {@code MessageSerializationTest} skip them. Every other message of an instance or a session
 * may cross nodes in the cluster profile and is serialized with Jackson.
 */
public interface LocalOnly extends org.apache.pekko.actor.NoSerializationVerificationNeeded {}
