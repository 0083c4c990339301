package io.syncedstore.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.auth.Principal;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The quota buckets and connection counts on their own. */
class QuotasTest {
  private static final Quotas.Settings USERS = new Quotas.Settings(10, 20, 6, 1.0, 2, 2);
  private static final Quotas.Settings ADDRESSES = new Quotas.Settings(100, 200, 60, 1.0, 20, 20);

  @Test
  void aUserHasItsOwnBucketsAndAnonymousCallersShareTheirAddress() {
    Quotas quotas = new Quotas(USERS, ADDRESSES);
    String alice = Quotas.holder(Principal.user("alice"), "10.0.0.1");
    String bob = Quotas.holder(Principal.user("bob"), "10.0.0.1");
    for (int i = 0; i < 10; i++) {
      quotas.message(alice);
    }
    Quotas.Refused refused = assertThrows(Quotas.Refused.class, () -> quotas.message(alice));
    assertEquals(ErrorCode.RATE_LIMITED, refused.code());
    assertTrue(refused.retryAfterMs() > 0 && refused.retryAfterMs() <= 100, "one token refills in 100 ms: " + refused.retryAfterMs());
    assertTrue(refused.getMessage().contains("10 messages per second"), refused.getMessage());
    quotas.message(bob); // another user is not affected

    String anonA = Quotas.holder(new Principal("anon-a", true, null, Set.of()), "10.0.0.2");
    String anonB = Quotas.holder(new Principal("anon-b", true, null, Set.of()), "10.0.0.2");
    assertEquals(anonA, anonB, "anonymous ids are free to mint; their address is the holder");
    for (int i = 0; i < 100; i++) {
      quotas.message(i % 2 == 0 ? anonA : anonB);
    }
    assertThrows(Quotas.Refused.class, () -> quotas.message(anonB));
  }

  @Test
  void mutationsAreCountedOneByOneAndABacklogLargerThanTheBucketEmptiesIt() {
    Quotas quotas = new Quotas(USERS, ADDRESSES);
    String alice = Quotas.holder(Principal.user("alice"), "10.0.0.1");
    quotas.mutations(alice, 15);
    assertThrows(Quotas.Refused.class, () -> quotas.mutations(alice, 6));
    quotas.mutations(alice, 5);

    Quotas fresh = new Quotas(USERS, ADDRESSES);
    fresh.mutations(alice, 500); // a full bucket lets one oversized backlog through
    assertThrows(Quotas.Refused.class, () -> fresh.mutations(alice, 1));
  }

  @Test
  void connectionsAndInstancesPerUserAreBoundedAndReleased() {
    Quotas quotas = new Quotas(USERS, ADDRESSES);
    String alice = Quotas.holder(Principal.user("alice"), "10.0.0.1");
    Runnable first = quotas.connect(alice, "app/i1");
    Runnable second = quotas.connect(alice, "app/i1");
    Quotas.Refused third = assertThrows(Quotas.Refused.class, () -> quotas.connect(alice, "app/i1"));
    assertEquals(ErrorCode.TOO_MANY_CONNECTIONS, third.code());
    first.run();
    first.run(); // releasing twice gives back one place only
    Runnable other = quotas.connect(alice, "app/i2");
    assertThrows(Quotas.Refused.class, () -> quotas.connect(alice, "app/i3"), "two connections already");
    second.run();
    other.run();
    Runnable a = quotas.connect(alice, "app/i2");
    Runnable b = quotas.connect(alice, "app/i3");
    a.run();
    b.run();
    Runnable c = quotas.connect(alice, "app/i4");
    Runnable d = quotas.connect(alice, "app/i5");
    assertEquals(ErrorCode.TOO_MANY_CONNECTIONS, assertThrows(Quotas.Refused.class, () -> quotas.connect(alice, "app/i6")).code());
    c.run();
    d.run();
  }

  @Test
  void idleHoldersAreForgotten() throws Exception {
    Quotas quotas = new Quotas(new Quotas.Settings(1000, 1000, 60_000, 1.0, 2, 2), ADDRESSES);
    for (int i = 0; i < 100; i++) {
      quotas.message(Quotas.holder(Principal.user("u" + i), "10.0.0.1"));
    }
    assertEquals(100, quotas.trackedHolders());
    Thread.sleep(20); // 1000 per second: one token is back after 1 ms
    quotas.sweep();
    assertEquals(0, quotas.trackedHolders(), "full buckets are dropped");
  }

  @Test
  void aMillionPerSecondIsEffectivelyUnlimited() {
    Quotas quotas = new Quotas(new Quotas.Settings(1_000_000, 1_000_000, 1_000_000, 2.0, 1_000_000, 1_000_000), ADDRESSES);
    String alice = Quotas.holder(Principal.user("alice"), "10.0.0.1");
    for (int i = 0; i < 100_000; i++) {
      quotas.message(alice);
    }
  }
}
