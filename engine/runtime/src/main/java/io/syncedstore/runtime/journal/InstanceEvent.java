package io.syncedstore.runtime.journal;

import io.syncedstore.runtime.JsonSerializable;

/**
 * Every event an instance persists. A long-lived contract: the class names are the serializer
 * manifests in existing journals, so these records are top-level and never renamed or moved;
 * fields are added with defaults and changed only through a {@code JacksonMigration} (see
 * {@code docs/PERSISTENCE.md}). Events carry effects (write sets), never mutator code, so
 * recovery does not depend on the current mutators.
 */
public sealed interface InstanceEvent extends JsonSerializable
    permits InstanceCreated, MutationApplied, MutationFailed, ActionCompleted {}
