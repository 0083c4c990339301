package io.syncedstore.client.testkit;

import static io.syncedstore.client.testkit.KitTestApps.answerKey;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.syncedstore.client.MutationHandle;
import io.syncedstore.client.SyncClient;
import io.syncedstore.client.testkit.KitTestApps.Reveal;
import io.syncedstore.client.testkit.KitTestApps.StartRound;
import io.syncedstore.client.testkit.KitTestApps.Submit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Submit-then-reveal with three or more clients: each player's answer goes to the server-only
 * tier, and the server's run of the last submission it applies writes the public reveal. No
 * client can compute the reveal optimistically (it sees no answers), so right after the last
 * {@code mutate} returns nobody has it: a test must wait for it with the kit's helpers.
 */
class SubmitThenRevealTest {
  private static final List<String> PLAYERS = List.of("alice", "bob", "carol", "dave");

  /** Four players: the reveal comes only from the server, so reading right after the last submit finds none. */
  @Test
  void lastSubmissionRevealsOnlyThroughTheServerSoTheTestMustWait() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(KitTestApps.SUBMIT_REVEAL)) {
      Map<String, SyncClient> clients = clients(kit);
      String round = "r1";
      clients.get("alice").mutate("startRound", new StartRound(round, PLAYERS.size()));
      kit.waitForAllClients();

      Map<String, String> answers = new TreeMap<>();
      List<String> firsts = PLAYERS.subList(0, PLAYERS.size() - 1);
      String last = PLAYERS.get(PLAYERS.size() - 1);
      List<MutationHandle> handles = new ArrayList<>();
      for (String p : firsts) {
        answers.put(p, "answer of " + p);
        handles.add(clients.get(p).mutate("submit", new Submit(round, p, answers.get(p))));
      }
      for (MutationHandle h : handles) {
        h.confirmed().get(10, TimeUnit.SECONDS); // so that the last submitter below is the last the server applies
      }
      kit.waitForAllClients();
      for (String p : PLAYERS) {
        SyncClient c = clients.get(p);
        assertEquals(Optional.empty(), reveal(c, round), p + " sees a reveal before everyone has submitted");
        List<String> submitted = c.query(tx -> tx.table("submitted").keys());
        assertEquals(firsts.stream().map(f -> answerKey(round, f)).toList(), submitted, p + " sees who has submitted");
        assertEquals(List.of(), c.query(tx -> tx.table("answers").keys()), p + " must not see any answer");
      }

      // Hold the last submitter's inbound only to pin "right after mutate returns": the server's
      // answer cannot have arrived yet (without the hold it almost never has, but almost is a flaky test).
      SyncClient lastClient = clients.get(last);
      kit.network(lastClient).holdInbound();
      answers.put(last, "answer of " + last);
      lastClient.mutate("submit", new Submit(round, last, answers.get(last)));
      boolean ownSubmissionShown = lastClient.query(tx -> tx.table("submitted").has(answerKey(round, last)));
      assertTrue(ownSubmissionShown,
          "the last submitter's optimistic view shows its own submission");
      assertEquals(Optional.empty(), reveal(lastClient, round),
          "right after the last submit returns, the submitter has no reveal: its optimistic run sees no answers,"
              + " so a test that reads now fails; the reveal is the server's");
      kit.network(lastClient).releaseInbound();

      for (String p : PLAYERS) {
        kit.waitForKeyExists(clients.get(p), "reveals", round);
      }
      Reveal expected = new Reveal(round, answers, last);
      for (String p : PLAYERS) {
        assertEquals(Optional.of(expected), reveal(clients.get(p), round), p + " sees the reveal of every answer");
      }
      SyncClient late = kit.createClient("erin");
      kit.waitForKeyExists(late, "reveals", round);
      assertEquals(Optional.of(expected), reveal(late, round), "a client that joins later sees the same reveal");
    }
  }

  /**
   * Twenty rounds with a seeded random submit order and random holds of each client's outbound
   * and inbound traffic, so that submissions reach the server, and pokes reach the clients, in
   * varied orders. In every round nobody sees a reveal before the last submission reaches the
   * server, then every client sees exactly one reveal with every answer, written by the run of
   * the submission the server applied last. Rerun a failure with {@code -Dreveal.seed=N}.
   */
  @Test
  void manyRoundsInRandomOrdersRevealOnceWithAllAnswersAfterTheLastSubmission() throws Exception {
    long seed = Long.getLong("reveal.seed", new Random().nextLong());
    String rerun = "seed " + seed + " (rerun with -Dreveal.seed=" + seed + ")";
    System.out.println("SubmitThenRevealTest " + rerun);
    Random rnd = new Random(seed);
    int rounds = 20;
    String at = rerun;
    try (SyncTestKit kit = SyncTestKit.start(KitTestApps.SUBMIT_REVEAL)) {
      Map<String, SyncClient> clients = clients(kit);
      SyncClient observer = kit.createClient("observer");
      Map<String, SyncClient> everyone = new LinkedHashMap<>(clients);
      everyone.put("observer", observer);
      kit.waitForAllClients();
      List<String> revealed = new ArrayList<>();

      for (int r = 1; r <= rounds; r++) {
        String round = String.format("r%02d", r);
        clients.get(PLAYERS.get(rnd.nextInt(PLAYERS.size()))).mutate("startRound", new StartRound(round, PLAYERS.size()));
        kit.waitForAllClients();

        List<String> order = new ArrayList<>(PLAYERS);
        Collections.shuffle(order, rnd);
        String last = PLAYERS.get(rnd.nextInt(PLAYERS.size())); // whose submission reaches the server last
        Set<String> heldOut = new LinkedHashSet<>();
        heldOut.add(last);
        Set<String> heldIn = new LinkedHashSet<>();
        for (String p : PLAYERS) {
          if (rnd.nextBoolean()) {
            heldOut.add(p);
          }
          if (rnd.nextInt(10) < 4) {
            heldIn.add(p);
          }
        }
        at = rerun + ", round " + round + ", submit order " + order + ", held outbound " + heldOut
            + " (released last: " + last + "), held inbound " + heldIn;
        for (String p : heldOut) {
          kit.network(clients.get(p)).holdOutbound();
        }
        for (String p : heldIn) {
          kit.network(clients.get(p)).holdInbound();
        }

        Map<String, String> answers = new TreeMap<>();
        Map<String, MutationHandle> handles = new LinkedHashMap<>();
        for (String p : order) {
          answers.put(p, p + " says " + rnd.nextInt(1000));
          handles.put(p, clients.get(p).mutate("submit", new Submit(round, p, answers.get(p))));
        }

        // Release the other held submissions in a random order, with some inbound releases between.
        List<String> others = new ArrayList<>(heldOut);
        others.remove(last);
        Collections.shuffle(others, rnd);
        List<String> stillHeldIn = new ArrayList<>(heldIn);
        Collections.shuffle(stillHeldIn, rnd);
        for (String p : others) {
          kit.network(clients.get(p)).releaseOutbound();
          if (!stillHeldIn.isEmpty() && rnd.nextBoolean()) {
            kit.network(clients.get(stillHeldIn.remove(0))).releaseInbound();
          }
        }
        // Every submission but the last has been applied by the server: the observer has them.
        for (String p : PLAYERS) {
          if (!p.equals(last)) {
            kit.waitForKeyExists(observer, "submitted", answerKey(round, p));
          }
        }
        for (Map.Entry<String, SyncClient> e : everyone.entrySet()) {
          assertEquals(Optional.empty(), reveal(e.getValue(), round),
              at + ": " + e.getKey() + " sees a reveal before " + last + "'s submission reached the server");
        }

        kit.network(clients.get(last)).releaseOutbound();
        for (String p : stillHeldIn) {
          kit.network(clients.get(p)).releaseInbound();
        }
        for (SyncClient c : everyone.values()) {
          kit.waitForKeyExists(c, "reveals", round);
        }
        kit.waitForAllClients();

        revealed.add(round);
        Reveal expected = new Reveal(round, answers, last);
        for (Map.Entry<String, SyncClient> e : everyone.entrySet()) {
          SyncClient c = e.getValue();
          assertEquals(Optional.of(expected), reveal(c, round), at + ": " + e.getKey() + "'s reveal");
          assertEquals(revealed, c.query(tx -> tx.table("reveals").keys()),
              at + ": " + e.getKey() + " must see exactly one reveal per finished round");
          assertEquals(List.of(), c.query(tx -> tx.table("answers").keys()), at + ": " + e.getKey() + " must not see any answer");
        }
        for (Map.Entry<String, MutationHandle> h : handles.entrySet()) {
          h.getValue().confirmed().get(10, TimeUnit.SECONDS);
          assertFalse(h.getValue().confirmed().isCompletedExceptionally(), at + ": " + h.getKey() + "'s submit");
        }
      }
    } catch (AssertionError e) {
      if (String.valueOf(e.getMessage()).contains(rerun)) {
        throw e;
      }
      throw new AssertionError(at + ": " + e.getMessage(), e); // a wait of the kit timed out
    } catch (Exception e) {
      throw new AssertionError(at + ": " + e, e);
    }
  }

  private static Map<String, SyncClient> clients(SyncTestKit kit) {
    Map<String, SyncClient> clients = new LinkedHashMap<>();
    for (String p : PLAYERS) {
      clients.put(p, kit.createClient(p));
    }
    kit.waitForAllClients();
    return clients;
  }

  private static Optional<Reveal> reveal(SyncClient c, String round) {
    return c.query(tx -> tx.table("reveals").get(round, Reveal.class));
  }
}
