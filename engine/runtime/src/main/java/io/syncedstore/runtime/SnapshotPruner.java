package io.syncedstore.runtime;

/**
 * Deletes an instance's old snapshots. Instances snapshot at intervals that grow with their size,
 * which Pekko's count-based retention cannot express, so deletion is done here; the persistence
 * module implements it on the snapshot table.
 */
@FunctionalInterface
public interface SnapshotPruner {
  /** Keeps every snapshot: for tests and in-memory snapshot stores. */
  SnapshotPruner NONE = (persistenceId, keepFromSequenceNr) -> {};

  /**
   * Deletes the snapshots of {@code persistenceId} taken before {@code keepFromSequenceNr}. Must
   * not block the caller (an instance's thread); failures are logged, never thrown.
   *
   * @param persistenceId the instance's persistence id
   * @param keepFromSequenceNr the sequence number of the oldest snapshot to keep
   */
  void deleteBefore(String persistenceId, long keepFromSequenceNr);
}
