package io.syncedstore.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class UniqueIdsTest {
  /** A clock the test moves; it may also stand still or go back. */
  private static final class TestClock extends Clock {
    final AtomicLong millis = new AtomicLong(1_700_000_000_000L);

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis.get());
    }
  }

  @Test
  void idsSortInCreationOrderEvenWhenTheClockStandsStillOrGoesBack() {
    TestClock clock = new TestClock();
    UniqueIds ids = new UniqueIds(clock);
    List<String> made = new ArrayList<>();
    for (int i = 0; i < 3000; i++) {
      made.add(ids.next());
      if (i % 7 == 0) {
        clock.millis.addAndGet(1);
      }
      if (i == 1500) {
        clock.millis.addAndGet(-50); // an NTP step back
      }
    }
    List<String> sorted = new ArrayList<>(made);
    sorted.sort(null);
    assertEquals(made, sorted);
    assertTrue(made.stream().allMatch(id -> id.length() == 26 && id.matches("[0-9A-HJKMNP-TV-Z]{26}")), made.get(0));
  }

  @Test
  void idsOfDifferentClientsInTheSameMillisecondDoNotCollideAndOrderByTime() {
    TestClock clock = new TestClock();
    UniqueIds a = new UniqueIds(clock);
    UniqueIds b = new UniqueIds(clock);
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < 50_000; i++) {
      assertTrue(seen.add(a.next()));
      assertTrue(seen.add(b.next()));
    }
    String earlier = a.next();
    clock.millis.addAndGet(1);
    assertTrue(earlier.compareTo(b.next()) < 0, "a later millisecond sorts after, whichever client made it");
    // the time part: 1,700,000,000,000 ms in 10 Crockford digits
    assertEquals("01HF7YAT00", new UniqueIds(Clock.fixed(Instant.ofEpochMilli(1_700_000_000_000L), ZoneOffset.UTC)).next().substring(0, 10));
  }
}
