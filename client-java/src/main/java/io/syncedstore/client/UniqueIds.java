package io.syncedstore.client;

import java.security.SecureRandom;
import java.time.Clock;

/**
 * Ids that sort by creation time and are unique across clients without coordination: 26
 * characters of Crockford base32, the first 10 the creation time in milliseconds, the last 16
 * eighty random bits (the layout of a ULID). Within one millisecond one generator increments the
 * random part, so its ids also sort in creation order; two generators collide only if they draw
 * the same 80 random bits in the same millisecond. Thread-safe.
 */
public final class UniqueIds {
  private static final char[] ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ".toCharArray();
  private static final long MAX_TIME = (1L << 48) - 1;

  private final Clock clock;
  private final SecureRandom random = new SecureRandom();
  private long lastMillis = -1;
  /** The 80 random bits: the high 16 and the low 64. */
  private long high;
  private long low;

  /** @param clock the clock that stamps the ids */
  public UniqueIds(Clock clock) {
    this.clock = clock;
  }

  /** @return a new id */
  public synchronized String next() {
    long millis = Math.min(MAX_TIME, Math.max(0, clock.millis()));
    if (millis <= lastMillis) {
      millis = lastMillis; // the clock went back or stood still: stay in the last millisecond, counting up
      low++;
      if (low == 0) {
        high = (high + 1) & 0xFFFF;
      }
    } else {
      lastMillis = millis;
      high = random.nextInt() & 0xFFFF;
      low = random.nextLong();
    }
    char[] out = new char[26];
    for (int i = 9; i >= 0; i--) {
      out[i] = ALPHABET[(int) (millis & 31)];
      millis >>>= 5;
    }
    // 80 bits as 16 characters: the high 16 bits and the low 64, 5 bits at a time from the end
    long lo = low;
    long hi = high;
    for (int i = 25; i >= 10; i--) {
      out[i] = ALPHABET[(int) (lo & 31)];
      lo = (lo >>> 5) | ((hi & 31) << 59);
      hi >>>= 5;
    }
    return new String(out);
  }
}
