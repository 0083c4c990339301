package io.syncedstore.api;

/** Where an entry lives, and so who may see it. */
public enum Tier {
  /** Visible to every client of the instance. */
  PUBLIC,
  /** Visible only to the owning user's clients. */
  PRIVATE,
  /** Never sent to any client; readable by server-side mutators and actions only. */
  SERVER_ONLY
}
