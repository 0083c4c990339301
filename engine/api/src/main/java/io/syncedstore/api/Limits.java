package io.syncedstore.api;

/**
 * Size limits the engine enforces on every mutation, identically on the server and the client.
 * A violation fails the mutation with a clear error and nothing is written.
 *
 * @param maxKeyLength longest item key or sort key, in UTF-16 chars
 * @param maxValueBytes largest value, as UTF-8 JSON bytes
 * @param maxInputBytes largest mutation input, as UTF-8 JSON bytes
 * @param maxWritesPerMutation most distinct entries one mutation may write
 * @param maxJsonDepth deepest nesting of arrays and objects in a value or input
 */
public record Limits(
    int maxKeyLength, int maxValueBytes, int maxInputBytes, int maxWritesPerMutation, int maxJsonDepth) {

  /** The defaults: 512-char keys, 256 KiB values, 256 KiB inputs, 1,000 writes, depth 32. */
  public static final Limits DEFAULT = new Limits(512, 256 * 1024, 256 * 1024, 1000, 32);

  /** Validates that every limit is positive. */
  public Limits {
    if (maxKeyLength <= 0 || maxValueBytes <= 0 || maxInputBytes <= 0 || maxWritesPerMutation <= 0 || maxJsonDepth <= 0) {
      throw new IllegalArgumentException("every limit must be positive: " + this);
    }
  }
}
