package io.syncedstore.api;

import java.util.Objects;

/**
 * What a scan returns: entries in ascending {@link EntryKey} order, optionally restricted to a
 * prefix of the sort key or of the item key, starting after a cursor, at most {@code limit}.
 *
 * <p>With {@link #reverse()} the scan walks from the end (or from before the cursor) towards the
 * start, takes the last {@code limit} entries, and still returns them in ascending order, so a
 * chat UI asks for "the last 50 messages" and gets them oldest first. To page backwards, pass the
 * first entry's key of the previous page as the cursor.
 *
 * <p>Immutable; every method returns a new instance.
 */
public final class ScanOptions {
  /** Which key a prefix applies to. */
  public enum PrefixOn {
    /** The prefix restricts the sort key (a range scan). */
    SORT_KEY,
    /** The prefix restricts the item key (a filter over the table order). */
    ITEM_KEY
  }

  private static final ScanOptions ALL = new ScanOptions(null, PrefixOn.SORT_KEY, -1, null, false, false);

  private final String prefix;
  private final PrefixOn prefixOn;
  private final int limit;
  private final EntryKey cursor;
  private final boolean cursorAtEnd;
  private final boolean reverse;

  private ScanOptions(String prefix, PrefixOn prefixOn, int limit, EntryKey cursor, boolean cursorAtEnd, boolean reverse) {
    this.prefix = prefix;
    this.prefixOn = prefixOn;
    this.limit = limit;
    this.cursor = cursor;
    this.cursorAtEnd = cursorAtEnd;
    this.reverse = reverse;
  }

  /** @return options that scan the whole table in order */
  public static ScanOptions all() {
    return ALL;
  }

  /** @return these options restricted to entries whose sort key starts with {@code prefix} */
  public ScanOptions sortKeyPrefix(String prefix) {
    return new ScanOptions(Objects.requireNonNull(prefix), PrefixOn.SORT_KEY, limit, cursor, cursorAtEnd, reverse);
  }

  /** @return these options restricted to entries whose item key starts with {@code prefix} */
  public ScanOptions itemKeyPrefix(String prefix) {
    return new ScanOptions(Objects.requireNonNull(prefix), PrefixOn.ITEM_KEY, limit, cursor, cursorAtEnd, reverse);
  }

  /** @return these options returning at most {@code limit} entries ({@code limit >= 0}) */
  public ScanOptions limit(int limit) {
    if (limit < 0) {
      throw new IllegalArgumentException("limit must be >= 0, got " + limit);
    }
    return new ScanOptions(prefix, prefixOn, limit, cursor, cursorAtEnd, reverse);
  }

  /**
   * @param key an entry key; the scan starts just after it (or, reversed, just before it). The
   *     entry need not exist.
   * @return these options with a cursor
   */
  public ScanOptions cursor(EntryKey key) {
    return new ScanOptions(prefix, prefixOn, limit, Objects.requireNonNull(key), false, reverse);
  }

  /**
   * @return these options with the cursor at the end of the table: a forward scan returns
   *     nothing, a reverse scan starts from the last entry
   */
  public ScanOptions cursorAtEnd() {
    return new ScanOptions(prefix, prefixOn, limit, null, true, reverse);
  }

  /** @return these options scanning from the end: the last {@code limit} entries, in ascending order */
  public ScanOptions reverse() {
    return new ScanOptions(prefix, prefixOn, limit, cursor, cursorAtEnd, true);
  }

  /** @return the prefix, or {@code null} */
  public String prefix() {
    return prefix;
  }

  /** @return which key the prefix applies to */
  public PrefixOn prefixOn() {
    return prefixOn;
  }

  /** @return the limit, or {@code -1} when unlimited */
  public int limit() {
    return limit;
  }

  /** @return the cursor, or {@code null} */
  public EntryKey cursor() {
    return cursor;
  }

  /** @return whether the cursor is at the end of the table */
  public boolean isCursorAtEnd() {
    return cursorAtEnd;
  }

  /** @return whether the scan is reversed */
  public boolean isReverse() {
    return reverse;
  }

  @Override
  public String toString() {
    return "ScanOptions[prefix=" + prefix + ", on=" + prefixOn + ", limit=" + limit + ", cursor=" + cursor
        + ", atEnd=" + cursorAtEnd + ", reverse=" + reverse + "]";
  }
}
