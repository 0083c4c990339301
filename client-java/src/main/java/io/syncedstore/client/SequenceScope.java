package io.syncedstore.client;

/**
 * When the counter of a {@link Sequences sequence} starts again at 1. An explicit scope key
 * ({@link Sequences#next(String, String)}) divides the counter further, whichever scope is chosen.
 */
public enum SequenceScope {
  /** One counter for the sequence, never restarted (the default). */
  GLOBAL,
  /** One counter per UTC date of the sequences' clock: the first value of each day is 1. */
  DAILY
}
