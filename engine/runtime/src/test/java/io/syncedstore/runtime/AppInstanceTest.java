package io.syncedstore.runtime;

import io.syncedstore.api.auth.Principal;
import static io.syncedstore.runtime.TestApp.KV;
import static io.syncedstore.runtime.TestApp.appliedPut;
import static io.syncedstore.runtime.TestApp.boom;
import static io.syncedstore.runtime.TestApp.del;
import static io.syncedstore.runtime.TestApp.json;
import static io.syncedstore.runtime.TestApp.note;
import static io.syncedstore.runtime.TestApp.put;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.api.protocol.PatchOp;
import io.syncedstore.runtime.AppInstance.MutationResult;
import io.syncedstore.runtime.AppInstance.PullResult;
import io.syncedstore.runtime.AppInstance.PushResult;
import io.syncedstore.runtime.journal.InstanceCreated;
import io.syncedstore.runtime.journal.InstanceEvent;
import io.syncedstore.runtime.journal.InstanceSnapshot;
import io.syncedstore.runtime.journal.MutationApplied;
import io.syncedstore.runtime.journal.MutationFailed;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.LongStream;
import org.apache.pekko.actor.testkit.typed.annotations.JUnit5TestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.JUnit5TestKitBuilder;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestKitJUnit5Extension;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.SnapshotMeta;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit.CommandResultWithReply;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * One {@link AppInstance} driven command by command through the EventSourcedBehaviorTestKit,
 * with serialization of every command, reply and event verified (state verification is off:
 * {@link InstanceState} is deliberately not serializable; snapshots go through
 * {@link InstanceSnapshot}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith({TestKitJUnit5Extension.class, LogCapturingExtension.class})
class AppInstanceTest {
  private static final InstanceId ID = new InstanceId(TestApp.NAME, "i1");
  private static final EventSourcedBehaviorTestKit.SerializationSettings SERIALIZATION =
      EventSourcedBehaviorTestKit.enabledSerializationSettings()
          .withVerifyCommands(true)
          .withVerifyEvents(true)
          .withVerifyEquality(true)
          .withVerifyState(false);

  @JUnit5TestKit
  ActorTestKit testKit = new JUnit5TestKitBuilder()
      .withCustomConfig(EventSourcedBehaviorTestKit.config().withFallback(ConfigFactory.load()))
      .build();

  private final EventSourcedBehaviorTestKit<AppInstance.Command, InstanceEvent, InstanceState> kit =
      EventSourcedBehaviorTestKit.create(testKit.system(),
          AppInstance.create(ID, TestApp.APP, RuntimeSettings.from(testKit.system().settings().config())), SERIALIZATION);

  @BeforeEach
  void clear() {
    kit.clear();
  }

  private CommandResultWithReply<AppInstance.Command, InstanceEvent, InstanceState, StatusReply<PushResult>> push(
      String group, String client, String user, MutationRequest... mutations) {
    return kit.runCommand(replyTo -> new AppInstance.Push(group, client, user, List.of(mutations), replyTo));
  }

  private PushResult pushOk(String group, String client, String user, MutationRequest... mutations) {
    StatusReply<PushResult> reply = push(group, client, user, mutations).reply();
    assertTrue(reply.isSuccess(), () -> "push failed: " + reply);
    return reply.getValue();
  }

  private PullResult pull(String group, String cookie, String user) {
    StatusReply<PullResult> reply = kit.<StatusReply<PullResult>>runCommand(
        replyTo -> new AppInstance.Pull(group, cookie, user, replyTo)).reply();
    assertTrue(reply.isSuccess(), () -> "pull failed: " + reply);
    return reply.getValue();
  }

  private static String errorOf(StatusReply<?> reply) {
    assertTrue(reply.isError(), () -> "expected an error reply, got " + reply);
    return reply.getError().getMessage();
  }

  private static MutationResult applied(long id) {
    return new MutationResult(id, "applied", null, null);
  }

  private static MutationResult duplicate(long id) {
    return new MutationResult(id, "duplicate", null, null);
  }

  private String epoch() {
    String epoch = kit.getState().epoch();
    assertTrue(epoch != null, "instance has no epoch yet");
    return epoch;
  }

  @Test
  void firstPushIsAppliedAndPersistsCreationAndTheWriteSet() {
    MutationRequest m = put(1, "a", 1);
    var result = push("g1", "c1", null, m);

    PushResult reply = result.reply().getValue();
    assertEquals(1, reply.lastMutationId());
    assertEquals(List.of(applied(1)), reply.results());

    List<InstanceEvent> events = result.events();
    assertEquals(2, events.size(), () -> "events: " + events);
    InstanceCreated created = assertInstanceOf(InstanceCreated.class, events.get(0));
    assertEquals(TestApp.NAME, created.app());
    assertEquals(TestApp.APP.schemaVersion(), created.schemaVersion());
    assertTrue(created.epoch().matches("[0-9a-f]{12}"), () -> "epoch: " + created.epoch());
    MutationApplied applied = assertInstanceOf(MutationApplied.class, events.get(1));
    assertEquals(appliedPut("g1", "c1", null, m), applied);
    assertEquals(List.of(io.syncedstore.api.store.Write.put(KV, "a", "", json(1))), applied.writes());

    assertEquals(created.epoch() + ":1", reply.cookie());
    assertEquals(1, result.state().version());
    assertEquals(1, result.state().client("c1").lastMutationId());
  }

  @Test
  void duplicatePushIsAcknowledgedWithoutNewEvents() {
    PushResult first = pushOk("g1", "c1", null, put(1, "a", 1));

    var again = push("g1", "c1", null, put(1, "a", 1));
    assertTrue(again.reply().isSuccess());
    assertEquals(new PushResult(1, List.of(duplicate(1)), first.cookie()), again.reply().getValue());
    assertTrue(again.hasNoEvents(), () -> "events: " + again.events());

    // a push overlapping the applied prefix applies only the new tail
    MutationRequest m2 = put(2, "b", 2);
    var overlap = push("g1", "c1", null, put(1, "a", 1), m2);
    assertEquals(List.of(duplicate(1), applied(2)), overlap.reply().getValue().results());
    assertEquals(2, overlap.reply().getValue().lastMutationId());
    assertEquals(List.of(appliedPut("g1", "c1", null, m2)), overlap.events());
  }

  @Test
  void gapIsRefusedWithTheExpectedIdAndNothingIsApplied() {
    pushOk("g1", "c1", null, put(1, "a", 1));

    var gap = push("g1", "c1", null, put(3, "x", 3));
    String error = errorOf(gap.reply());
    assertTrue(error.startsWith("MUTATION_ID_GAP: "), error);
    assertTrue(error.contains("expected mutation id 2"), error);
    assertTrue(gap.hasNoEvents(), () -> "events: " + gap.events());

    // a gap after a valid prefix refuses the whole push, the valid prefix included
    var gapInside = push("g1", "c1", null, put(2, "b", 2), put(4, "d", 4));
    String error2 = errorOf(gapInside.reply());
    assertTrue(error2.startsWith("MUTATION_ID_GAP: "), error2);
    assertTrue(error2.contains("expected mutation id 3"), error2);
    assertTrue(gapInside.hasNoEvents(), () -> "events: " + gapInside.events());
    assertEquals(1, kit.getState().client("c1").lastMutationId());

    // a new client must start at 1
    String error3 = errorOf(push("g1", "c2", null, put(2, "b", 2)).reply());
    assertTrue(error3.startsWith("MUTATION_ID_GAP: ") && error3.contains("expected mutation id 1"), error3);

    assertEquals(List.of(applied(2)), pushOk("g1", "c1", null, put(2, "b", 2)).results());
  }

  @Test
  void badMutationIdsAreRefusedAsBadRequestWithoutAnyEvent() {
    List<List<MutationRequest>> bad = List.of(
        List.of(put(2, "a", 1), put(1, "b", 1)),
        List.of(put(1, "a", 1), put(1, "b", 1)),
        List.of(put(0, "a", 1)),
        List.of(put(-1, "a", 1)));
    for (List<MutationRequest> mutations : bad) {
      var result = push("g1", "c1", null, mutations.toArray(MutationRequest[]::new));
      String error = errorOf(result.reply());
      assertTrue(error.startsWith("BAD_REQUEST: "), () -> mutations + " -> " + error);
      // refused before queueing: not even the instance's creation is persisted
      assertTrue(result.hasNoEvents(), () -> mutations + " -> events " + result.events());
    }
    String noClient = errorOf(push("g1", "", null, put(1, "a", 1)).reply());
    assertTrue(noClient.startsWith("BAD_REQUEST: "), noClient);
    String noGroup = errorOf(push("", "c1", null, put(1, "a", 1)).reply());
    assertTrue(noGroup.startsWith("BAD_REQUEST: "), noGroup);

    MutationRequest[] tooMany = LongStream.rangeClosed(1, 1001).mapToObj(i -> put(i, "k", (int) i)).toArray(MutationRequest[]::new);
    String tooManyError = errorOf(push("g1", "c1", null, tooMany).reply());
    assertTrue(tooManyError.startsWith("BAD_REQUEST: ") && tooManyError.contains("at most 1000"), tooManyError);

    assertEquals(List.of(applied(1)), pushOk("g1", "c1", null, put(1, "a", 1)).results());
  }

  @Test
  void failingMutatorPersistsMutationFailedAndTheNextMutationApplies() {
    MutationRequest b = boom(1, "boomed");
    var failed = push("g1", "c1", null, b);
    PushResult reply = failed.reply().getValue();
    assertEquals(1, reply.lastMutationId());
    assertEquals(List.of(new MutationResult(1, "failed", ErrorCode.MUTATOR_FAILED, "boom failed: kaboom")), reply.results());
    List<InstanceEvent> events = failed.events();
    assertEquals(2, events.size(), () -> "events: " + events);
    assertInstanceOf(InstanceCreated.class, events.get(0));
    assertEquals(new MutationFailed("g1", "c1", 1, "boom", b.args(), null, b.timestamp(), ErrorCode.MUTATOR_FAILED,
        "boom failed: kaboom"), events.get(1));

    MutationRequest m2 = put(2, "a", "ok");
    var next = push("g1", "c1", null, m2);
    assertEquals(List.of(applied(2)), next.reply().getValue().results());
    assertEquals(List.of(appliedPut("g1", "c1", null, m2)), next.events());

    // failures in the middle of a push: the rest still runs, unknown mutators and bad input fail too
    MutationRequest unknown = new MutationRequest(4, "nope", TestApp.putArgs("x", 1), TestApp.TS);
    MutationRequest badInput = new MutationRequest(5, "put", json(Map.of("wrong", 1)), TestApp.TS);
    PushResult mixed = pushOk("g1", "c1", null, boom(3, "x"), unknown, badInput, put(6, "b", "ok"));
    assertEquals(List.of("failed", "failed", "failed", "applied"), mixed.results().stream().map(MutationResult::status).toList());
    assertEquals(List.of(ErrorCode.MUTATOR_FAILED, ErrorCode.UNKNOWN_MUTATOR, ErrorCode.INVALID_INPUT),
        mixed.results().subList(0, 3).stream().map(MutationResult::code).toList());
    assertEquals(6, mixed.lastMutationId());

    PullResult state = pull("g1", null, null);
    assertEquals(List.of(PatchOp.CLEAR, PatchOp.put("public", "kv", "a", "", json("ok")), PatchOp.put("public", "kv", "b", "", json("ok"))),
        state.patch(), "nothing a failed mutation wrote may survive");
    assertEquals(epoch() + ":6", state.cookie(), "failed mutations advance the version too");
  }

  @Test
  void clientIdOfAnotherUserIsRefused() {
    pushOk("g1", "c1", "u1", put(1, "a", 1));

    var other = push("g1", "c1", "u2", put(2, "b", 2));
    String error = errorOf(other.reply());
    assertTrue(error.startsWith("CLIENT_OWNED_BY_OTHER_USER: "), error);
    assertTrue(other.hasNoEvents(), () -> "events: " + other.events());

    String anonymous = errorOf(push("g1", "c1", null, put(2, "b", 2)).reply());
    assertTrue(anonymous.startsWith("CLIENT_OWNED_BY_OTHER_USER: "), anonymous);
    // even a pure duplicate is refused: it would tell the other user what the client did
    String duplicate = errorOf(push("g1", "c1", "u2", put(1, "a", 1)).reply());
    assertTrue(duplicate.startsWith("CLIENT_OWNED_BY_OTHER_USER: "), duplicate);

    String otherGroup = errorOf(push("g2", "c1", "u1", put(2, "b", 2)).reply());
    assertTrue(otherGroup.startsWith("BAD_REQUEST: "), otherGroup);

    assertEquals(List.of(applied(2)), pushOk("g1", "c1", "u1", put(2, "b", 2)).results());
  }

  @Test
  void pullWithoutCookieResetsAndPullWithOldCookieGetsOnlyChanges() {
    pushOk("g1", "c1", null, put(1, "b", "B1"));
    pushOk("g1", "c2", null, put(1, "a", "A1"));
    pushOk("g2", "c3", null, put(1, "z", "Z1"));

    PullResult full = pull("g1", null, null);
    String epoch = epoch();
    assertEquals(new PullResult(epoch + ":3", true, Map.of("c1", 1L, "c2", 1L), List.of(
        PatchOp.CLEAR,
        PatchOp.put("public", "kv", "a", "", json("A1")),
        PatchOp.put("public", "kv", "b", "", json("B1")),
        PatchOp.put("public", "kv", "z", "", json("Z1"))), true), full);

    pushOk("g1", "c1", null, put(2, "b", "B2"));
    pushOk("g1", "c1", null, del(3, "a"));
    pushOk("g2", "c3", null, put(2, "y", "Y2"));

    PullResult changes = pull("g1", full.cookie(), null);
    assertEquals(new PullResult(epoch + ":6", false, Map.of("c1", 3L), List.of(
        PatchOp.put("public", "kv", "b", "", json("B2")),
        PatchOp.del("public", "kv", "a"),
        PatchOp.put("public", "kv", "y", "", json("Y2"))), true), changes);

    assertEquals(new PullResult(epoch + ":6", false, Map.of(), List.of(), true), pull("g1", changes.cookie(), null),
        "a pull at the current cookie is empty");
    PullResult fromV5 = pull("g2", epoch + ":5", null);
    assertEquals(List.of(PatchOp.put("public", "kv", "y", "", json("Y2"))), fromV5.patch());
    assertEquals(Map.of("c3", 2L), fromV5.lastMutationIdChanges());

    // a cookie of another life of the log, or from the future, gets a full reset
    assertTrue(pull("g1", "ffffffffffff:3", null).reset());
    assertFalse(pull("g9", null, null).clientGroupKnown(), "a group none of whose clients pushed is unknown");
    assertTrue(pull("g1", epoch + ":7", null).reset());

    var malformed = kit.<StatusReply<PullResult>>runCommand(replyTo -> new AppInstance.Pull("g1", "no-version", Principal.ANONYMOUS, replyTo));
    String error = errorOf(malformed.reply());
    assertTrue(error.startsWith("BAD_REQUEST: "), error);
    assertTrue(malformed.hasNoEvents());
  }

  @Test
  void pullOfAFreshInstanceWritesNothing() {
    // a pull must not grow the journal: an instance nobody pushed to answers with an empty reset
    var result = kit.<StatusReply<PullResult>>runCommand(replyTo -> new AppInstance.Pull("g1", null, Principal.ANONYMOUS, replyTo));
    assertTrue(result.hasNoEvents());
    assertEquals(new PullResult(AppInstance.NO_EPOCH + ":0", true, Map.of(), List.of(PatchOp.CLEAR), false), result.reply().getValue());
    // once something is written, the "no epoch" cookie gets a reset with the real epoch
    pushOk("g1", "c1", null, put(1, "a", "x"));
    var after = kit.<StatusReply<PullResult>>runCommand(replyTo -> new AppInstance.Pull("g1", AppInstance.NO_EPOCH + ":0", Principal.ANONYMOUS, replyTo));
    assertTrue(after.hasNoEvents());
    assertTrue(after.reply().getValue().reset());
    assertEquals(List.of(PatchOp.CLEAR, PatchOp.put("public", "kv", "a", "", json("x"))), after.reply().getValue().patch());
    assertFalse(after.reply().getValue().cookie().startsWith(AppInstance.NO_EPOCH + ":"));
  }

  @Test
  void privateRowsAreVisibleToTheirOwnerOnly() {
    pushOk("g1", "c1", "u1", note(1, "n", "secret"), put(2, "a", "public"));

    List<PatchOp> owner = pull("g1", null, "u1").patch();
    assertEquals(PatchOp.CLEAR, owner.get(0));
    assertEquals(Set.of(PatchOp.put("public", "kv", "a", "", json("public")), PatchOp.put("private", "notes", "n", "", json("secret"))),
        Set.copyOf(owner.subList(1, owner.size())));
    assertEquals(3, owner.size());
    assertEquals(List.of(PatchOp.CLEAR, PatchOp.put("public", "kv", "a", "", json("public"))), pull("g1", null, "u2").patch());
    assertEquals(List.of(PatchOp.CLEAR, PatchOp.put("public", "kv", "a", "", json("public"))), pull("g1", null, null).patch());

    // an anonymous client has no private tier
    PushResult anonymous = pushOk("g1", "c2", null, note(1, "n", "x"));
    assertEquals(ErrorCode.TIER_VIOLATION, anonymous.results().get(0).code());
  }

  @Test
  void restartRecoversTheSameStateFromEvents() {
    pushOk("g1", "c1", "u1", put(1, "a", 1), note(2, "n", Map.of("deep", List.of(1, 2, 3))));
    pushOk("g1", "c2", null, put(1, "b", 2), boom(2, "c"), del(3, "a"));
    pushOk("g2", "c3", null, put(1, "c", List.of("x", true, 1.5)));
    PullResult g1Before = pull("g1", null, "u1");
    PullResult g2Before = pull("g2", null, null);
    PullResult sinceV2Before = pull("g1", epoch() + ":2", "u1");

    InstanceState recovered = kit.restart().state();
    assertEquals(6, recovered.version());

    assertEquals(g1Before, pull("g1", null, "u1"));
    assertEquals(g2Before, pull("g2", null, null));
    assertEquals(sinceV2Before, pull("g1", epoch() + ":2", "u1"));
    // client positions survived too: old ids are duplicates, the next id applies
    assertEquals(List.of(duplicate(3)), pushOk("g1", "c2", null, del(3, "a")).results());
    assertEquals(List.of(applied(4)), pushOk("g1", "c2", null, put(4, "d", 4)).results());
    String owner = errorOf(push("g1", "c1", "u2", put(3, "x", 1)).reply());
    assertTrue(owner.startsWith("CLIENT_OWNED_BY_OTHER_USER: "), owner);
  }

  @Test
  void snapshotsGoThroughInstanceSnapshotAndRecoverWithoutEvents() {
    InstanceId id = new InstanceId(TestApp.NAME, "snap");
    // creating a testkit clears the whole journal: this test owns its own instance and runs alone
    EventSourcedBehaviorTestKit<AppInstance.Command, InstanceEvent, InstanceState> snapKit =
        EventSourcedBehaviorTestKit.create(testKit.system(),
            AppInstance.create(id, TestApp.APP, TestApp.settings(2, Duration.ofMinutes(2), 10_000)), SERIALIZATION);
    // seq 1 created + 1 put, seq 3-4 two puts, seq 5 a delete, seq 6 a put
    for (MutationRequest m : List.of(put(1, "a", 1), put(2, "b", 2), put(3, "c", 3), del(4, "a"), put(5, "d", 4))) {
      var r = snapKit.<StatusReply<PushResult>>runCommand(replyTo -> new AppInstance.Push("g1", "c1", Principal.ANONYMOUS, List.of(m), replyTo));
      assertTrue(r.reply().isSuccess(), () -> "push failed: " + r.reply());
    }
    String pid = id.persistenceId();
    List<Pair<SnapshotMeta, Object>> snapshots = snapKit.snapshotTestKit().orElseThrow().persistedInStorage(pid);
    assertFalse(snapshots.isEmpty(), "snapshot-every = 2 must have produced a snapshot");
    Pair<SnapshotMeta, Object> latest = snapshots.get(snapshots.size() - 1);
    InstanceSnapshot snapshot = assertInstanceOf(InstanceSnapshot.class, latest.second());
    assertEquals(6, latest.first().sequenceNr());
    assertEquals(5, snapshot.version());
    assertEquals(List.of(new InstanceSnapshot.ClientSnapshot("c1", "g1", null, 5, 5)), snapshot.clients());

    StatusReply<PullResult> before = snapKit.<StatusReply<PullResult>>runCommand(replyTo -> new AppInstance.Pull("g1", null, Principal.ANONYMOUS, replyTo)).reply();
    String cookie2 = before.getValue().cookie().replaceAll(":\\d+$", ":2");
    StatusReply<PullResult> sinceV2Before = snapKit.<StatusReply<PullResult>>runCommand(
        replyTo -> new AppInstance.Pull("g1", cookie2, Principal.ANONYMOUS, replyTo)).reply();
    assertTrue(sinceV2Before.getValue().patch().contains(PatchOp.del("public", "kv", "a")), sinceV2Before.toString());

    // drop the events: only the snapshot is left to recover from
    snapKit.persistenceTestKit().clearByIdPreservingSeqNumbers(pid);
    assertTrue(snapKit.persistenceTestKit().persistedInStorage(pid).isEmpty());
    InstanceState recovered = snapKit.restart().state();
    assertEquals(5, recovered.version());
    assertEquals(before, snapKit.<StatusReply<PullResult>>runCommand(replyTo -> new AppInstance.Pull("g1", null, Principal.ANONYMOUS, replyTo)).reply());
    assertEquals(sinceV2Before, snapKit.<StatusReply<PullResult>>runCommand(
        replyTo -> new AppInstance.Pull("g1", cookie2, Principal.ANONYMOUS, replyTo)).reply(), "tombstones survive the snapshot");
    var dup = snapKit.<StatusReply<PushResult>>runCommand(replyTo -> new AppInstance.Push("g1", "c1", Principal.ANONYMOUS, List.of(put(5, "d", 4)), replyTo));
    assertEquals(List.of(duplicate(5)), dup.reply().getValue().results());
    assertTrue(dup.hasNoEvents());
    snapKit.clear();
  }

  @Test
  void everyPushInTheSameRunGetsItsOwnResults() {
    // several clients interleaved: each push's results and last id are its own
    List<PushResult> results = new ArrayList<>();
    for (int round = 1; round <= 3; round++) {
      for (String client : Arrays.asList("c1", "c2", "c3")) {
        results.add(pushOk("g1", client, null, put(round, client + round, round)));
      }
    }
    for (int i = 0; i < results.size(); i++) {
      long round = i / 3 + 1;
      assertEquals(round, results.get(i).lastMutationId());
      assertEquals(List.of(applied(round)), results.get(i).results());
      assertEquals(epoch() + ":" + (i + 1), results.get(i).cookie());
    }
    assertNotEquals(results.get(0).cookie(), results.get(1).cookie());
  }
}
