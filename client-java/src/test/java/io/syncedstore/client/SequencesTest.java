package io.syncedstore.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class SequencesTest {
  /** 2026-11-24T23:59:59Z: one second before midnight UTC. */
  private static final Instant LATE_ON_NOV_24 = Instant.parse("2026-11-24T23:59:59Z");

  /** A clock the test moves. */
  private static final class TestClock extends Clock {
    final AtomicReference<Instant> now = new AtomicReference<>(LATE_ON_NOV_24);

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now.get();
    }

    void advance(Duration by) {
      now.updateAndGet(t -> t.plus(by));
    }
  }

  /** Plays the client's storage: keeps what the callback persists. */
  private static final class Store {
    final Map<String, Long> counters = new ConcurrentHashMap<>();
    final List<String> calls = new ArrayList<>();

    synchronized void persist(String key, Long value) {
      calls.add(key + "=" + value);
      counters.put(key, value);
    }
  }

  private static Sequences sequences(Clock clock, Store store) {
    return new Sequences(clock, "client-a", store.counters, store::persist);
  }

  @Test
  void anUndefinedSequenceUsesNameDashFourDigitsAndStartsAtOne() {
    Sequences seq = sequences(new TestClock(), new Store());
    assertEquals("order-0001", seq.next("order"));
    assertEquals("order-0002", seq.next("order"));
    assertEquals(3, seq.nextNumber("order"), "nextNumber advances the same counter");
    assertEquals("order-0004", seq.next("order"));
    assertEquals("ticket-0001", seq.next("ticket"), "each sequence has its own counter");
  }

  @Test
  void paddingIsAMinimumAndSeqIsNeverPadded() {
    Store store = new Store();
    store.counters.put(counterKeyOf("a"), 9998L);
    Sequences seq = sequences(new TestClock(), store);
    seq.define("a", "A{seq:4}");
    assertEquals("A9999", seq.next("a"));
    assertEquals("A10000", seq.next("a"), "more digits than N are written in full");
    seq.define("plain", "#{seq}");
    assertEquals("#1", seq.next("plain"));
    seq.define("wide", "{seq:19}");
    assertEquals("0000000000000000001", seq.next("wide"));
  }

  @Test
  void literalTextAndEscapedBracesSurroundThePlaceholders() {
    Sequences seq = sequences(new TestClock(), new Store());
    seq.define("b", "{{x}} n={seq:2} }}");
    assertEquals("{x} n=01 }", seq.next("b"));
    assertEquals("{weird}-0001", seq.next("{weird}"), "the default format keeps braces in the name literal");
  }

  @Test
  void dateIsTheUtcDateOfTheClock() {
    TestClock clock = new TestClock();
    Sequences seq = sequences(clock, new Store());
    seq.define("log", "{date}/{seq}");
    assertEquals("20261124/1", seq.next("log"));
    clock.advance(Duration.ofSeconds(1));
    assertEquals("20261125/2", seq.next("log"), "GLOBAL: the counter goes on across days");
  }

  @Test
  void nodeIdIsStableForAClientIdAndDiffersForAnother() {
    Clock clock = new TestClock();
    Sequences a1 = new Sequences(clock, "client-a", Map.of(), (k, v) -> { });
    Sequences a2 = new Sequences(clock, "client-a", Map.of(), (k, v) -> { });
    Sequences b = new Sequences(clock, "client-b", Map.of(), (k, v) -> { });
    for (Sequences s : List.of(a1, a2, b)) {
      s.define("order", "{node4}|{node8}|{seq}");
    }
    String fromA = a1.next("order");
    assertEquals(fromA, a2.next("order"), "same client id, same node id");
    String[] parts = fromA.split("\\|");
    assertTrue(parts[1].matches("[0-9A-HJKMNP-TV-Z]{8}"), parts[1]);
    assertEquals(parts[1].substring(0, 4), parts[0], "node4 is the start of node8");
    assertEquals(a1.nodeId(), parts[1]);
    assertNotEquals(fromA, b.next("order"), "two devices' first values differ when the node id is in the format");
  }

  @Test
  void dailyRestartsEachUtcDay() {
    TestClock clock = new TestClock();
    Sequences seq = sequences(clock, new Store());
    seq.define("inv", "INV-{date}-{seq:3}", SequenceScope.DAILY);
    assertEquals("INV-20261124-001", seq.next("inv"));
    assertEquals("INV-20261124-002", seq.next("inv"));
    clock.advance(Duration.ofSeconds(1));
    assertEquals("INV-20261125-001", seq.next("inv"));
    clock.advance(Duration.ofHours(23));
    assertEquals("INV-20261125-002", seq.next("inv"));
  }

  @Test
  void scopeKeysHaveIndependentCountersAndCombineWithDaily() {
    TestClock clock = new TestClock();
    Sequences seq = sequences(clock, new Store());
    seq.define("msg", "{seq}");
    assertEquals("1", seq.next("msg", "room-1"));
    assertEquals("2", seq.next("msg", "room-1"));
    assertEquals("1", seq.next("msg", "room-2"));
    assertEquals("1", seq.next("msg"), "no key is a counter of its own");
    assertEquals(3, seq.nextNumber("msg", "room-1"));

    seq.define("shift", "{date}:{seq}", SequenceScope.DAILY);
    assertEquals("20261124:1", seq.next("shift", "till-1"));
    assertEquals("20261124:1", seq.next("shift", "till-2"));
    assertEquals("20261124:2", seq.next("shift", "till-1"));
    clock.advance(Duration.ofSeconds(1));
    assertEquals("20261125:1", seq.next("shift", "till-1"), "DAILY + key: one counter per (date, key)");
    assertEquals("20261125:1", seq.next("shift", "till-2"));
    assertThrows(IllegalArgumentException.class, () -> seq.next("msg", ""));
  }

  @Test
  void aNewInstanceFedThePersistedCountersContinuesWithoutRepeating() {
    TestClock clock = new TestClock();
    Store store = new Store();
    Set<String> handedOut = new HashSet<>();
    Sequences before = sequences(clock, store);
    before.define("inv", "INV-{date}-{seq:3}", SequenceScope.DAILY);
    for (int i = 0; i < 5; i++) {
      assertTrue(handedOut.add(before.next("order")));
      assertTrue(handedOut.add(before.next("msg", "room-1")));
      assertTrue(handedOut.add(before.next("inv")));
    }
    assertTrue(store.calls.contains(counterKeyOf("order") + "=5"), store.calls.toString());

    Sequences after = sequences(clock, Map.copyOf(store.counters), store); // restart: definitions are gone
    after.define("inv", "INV-{date}-{seq:3}", SequenceScope.DAILY);
    assertEquals("order-0006", after.next("order"));
    assertEquals("msg-0006", after.next("msg", "room-1"));
    assertEquals("INV-20261124-006", after.next("inv"));
    for (int i = 0; i < 5; i++) {
      assertTrue(handedOut.add(after.next("order")));
      assertTrue(handedOut.add(after.next("msg", "room-1")));
      assertTrue(handedOut.add(after.next("inv")));
    }
  }

  private static Sequences sequences(Clock clock, Map<String, Long> initial, Store store) {
    return new Sequences(clock, "client-a", initial, store::persist);
  }

  @Test
  void persistIsCalledBeforeNextReturnsAndItsFailureLeavesTheCounterAlone() {
    AtomicBoolean failing = new AtomicBoolean();
    List<String> persisted = new ArrayList<>();
    RuntimeException diskFull = new IllegalStateException("disk full");
    Sequences seq = new Sequences(new TestClock(), "client-a", Map.of(), (key, value) -> {
      if (failing.get()) {
        throw diskFull;
      }
      persisted.add(key + "=" + value);
    });
    assertEquals("order-0001", seq.next("order"));
    assertEquals(List.of(counterKeyOf("order") + "=1"), persisted);
    failing.set(true);
    assertSame(diskFull, assertThrows(IllegalStateException.class, () -> seq.next("order")));
    assertSame(diskFull, assertThrows(IllegalStateException.class, () -> seq.nextNumber("order")));
    failing.set(false);
    assertEquals("order-0002", seq.next("order"), "the failed calls handed out nothing");
    assertEquals(List.of(counterKeyOf("order") + "=1", counterKeyOf("order") + "=2"), persisted);
  }

  @Test
  void badFormatsAndNamesAreRejectedAtDefineTimeWithTheProblemNamed() {
    Sequences seq = sequences(new TestClock(), new Store());
    assertRejected(seq, "x-{foo}", "unknown placeholder {foo}");
    assertRejected(seq, "x-{seq:0}", "bad width \"0\"");
    assertRejected(seq, "x-{seq:20}", "bad width \"20\"");
    assertRejected(seq, "x-{seq:ab}", "bad width \"ab\"");
    assertRejected(seq, "x-{seq:}", "bad width \"\"");
    assertRejected(seq, "x-{seq:-3}", "bad width \"-3\"");
    assertRejected(seq, "x-{seq", "unclosed '{'");
    assertRejected(seq, "x-}{seq}", "unmatched '}'");
    assertRejected(seq, "x-{date}", "no {seq}");
    assertThrows(IllegalArgumentException.class, () -> seq.define("", "{seq}"));
    assertThrows(IllegalArgumentException.class, () -> seq.define("a\u0000b", "{seq}"));
    assertEquals("x-0001", seq.next("x"), "a rejected definition leaves the default in place");
  }

  private static void assertRejected(Sequences seq, String format, String expectedInMessage) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> seq.define("x", format));
    assertTrue(e.getMessage().contains(expectedInMessage), e.getMessage());
  }

  @Test
  void concurrentCallersNeverGetTheSameValue() throws Exception {
    Store store = new Store();
    Sequences seq = sequences(new TestClock(), store);
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<List<String>>> results = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        results.add(pool.submit(() -> {
          List<String> mine = new ArrayList<>();
          for (int i = 0; i < 1000; i++) {
            mine.add(seq.next("order"));
          }
          return mine;
        }));
      }
      Set<String> all = new HashSet<>();
      for (Future<List<String>> result : results) {
        all.addAll(result.get(30, TimeUnit.SECONDS));
      }
      assertEquals(4000, all.size());
      assertTrue(all.contains("order-0001") && all.contains("order-4000"));
      assertEquals(4000L, store.counters.get(counterKeyOf("order")), "the last persisted value is the last handed out");
    } finally {
      pool.shutdownNow();
    }
  }

  /** The key of a GLOBAL sequence's counter without a scope key, found through the callback. */
  private static String counterKeyOf(String name) {
    AtomicReference<String> key = new AtomicReference<>();
    new Sequences(Clock.systemUTC(), "probe", Map.of(), (k, v) -> key.set(k)).next(name);
    return key.get();
  }
}
