package io.syncedstore.runtime;

import io.syncedstore.api.auth.Principal;
import static io.syncedstore.runtime.TestApp.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.exec.EnqueuedAction;
import io.syncedstore.api.protocol.Cookie;
import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.api.protocol.PatchOp;
import io.syncedstore.api.store.EntryStore;
import io.syncedstore.api.store.TableAddress;
import io.syncedstore.api.store.Write;
import io.syncedstore.runtime.AppInstance.MutationResult;
import io.syncedstore.runtime.AppInstance.PullResult;
import io.syncedstore.runtime.AppInstance.PushResult;
import io.syncedstore.runtime.journal.InstanceCreated;
import io.syncedstore.runtime.journal.InstanceSnapshot;
import io.syncedstore.runtime.journal.MutationApplied;
import io.syncedstore.runtime.journal.MutationFailed;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.apache.pekko.actor.testkit.typed.annotations.JUnit5TestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.JUnit5TestKitBuilder;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestKitJUnit5Extension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.apache.pekko.serialization.jackson.JacksonJsonSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Every message and journal type round-trips through Pekko's serialization as configured by this
 * module's reference.conf: {@link JsonSerializable} types through the jackson-json serializer,
 * never Java serialization, and come back equal.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith({TestKitJUnit5Extension.class, LogCapturingExtension.class})
class SerializationTest {
  @JUnit5TestKit
  ActorTestKit testKit = new JUnit5TestKitBuilder().withCustomConfig(ConfigFactory.load()).build();

  private Serialization serialization() {
    return SerializationExtension.get(testKit.system().classicSystem());
  }

  /** Serializes {@code value} through jackson-json and back; asserts equality; returns the copy. */
  private <T> T roundTrip(T value) {
    Serializer serializer = serialization().findSerializerFor(value);
    assertInstanceOf(JacksonJsonSerializer.class, serializer, () -> value.getClass() + " must use jackson-json");
    return roundTripWith(serializer, value);
  }

  @SuppressWarnings("unchecked")
  private <T> T roundTripWith(Serializer serializer, T value) {
    byte[] bytes = serialization().serialize(value).get();
    Object back = serialization().deserialize(bytes, serializer.identifier(), Serializers.manifestFor(serializer, value)).get();
    assertEquals(value, back, () -> "round trip of " + value.getClass().getName() + " via " + new String(bytes, StandardCharsets.UTF_8));
    if (!(value instanceof Enum<?>)) {
      assertNotSame(value, back, "must be a real copy, not the same object");
    }
    return (T) back;
  }

  private <R> ActorRef<R> ref() {
    TestProbe<R> probe = testKit.createTestProbe();
    return probe.ref();
  }

  private static MutationRequest complexMutation(long id) {
    Map<String, Object> value = new LinkedHashMap<>();
    value.put("text", "héllo \"quoted\" \u2603");
    value.put("int", 42);
    value.put("negative", -7);
    value.put("double", 1.25);
    value.put("bool", false);
    value.put("nothing", null);
    value.put("list", List.of(1, "two", List.of(3), Map.of("four", 4)));
    return new MutationRequest(id, "put", TestApp.putArgs("key/with:odd chars", value), TestApp.TS + id);
  }

  @Test
  void commands() {
    ActorRef<StatusReply<PushResult>> pushReplyTo = ref();
    AppInstance.Push push = roundTrip(new AppInstance.Push("g1", "c1", "user-1",
        List.of(complexMutation(1), TestApp.put(2, "a", 1), TestApp.del(3, "a")), pushReplyTo));
    assertEquals(pushReplyTo, push.replyTo(), "the reply-to ref must resolve to the same actor");
    roundTrip(new AppInstance.Push("g1", "c1", Principal.ANONYMOUS, List.of(), pushReplyTo));
    roundTrip(new AppInstance.Push("g1", "c1", Principal.ANONYMOUS,
        IntStream.rangeClosed(1, 1000).mapToObj(i -> TestApp.put(i, "key-" + i, "value-" + i)).toList(), pushReplyTo));

    ActorRef<StatusReply<PullResult>> pullReplyTo = ref();
    AppInstance.Pull pull = roundTrip(new AppInstance.Pull("g1", "0123456789ab:17", "user-1", pullReplyTo));
    assertEquals(pullReplyTo, pull.replyTo());
    roundTrip(new AppInstance.Pull("g1", null, Principal.ANONYMOUS, pullReplyTo));

    assertEquals(AppInstance.Stop.INSTANCE, roundTrip(AppInstance.Stop.INSTANCE));
  }

  @Test
  void accessControlTravelsWithTheCommands() throws Exception {
    // the principal: user, anonymity, scopes with typed values, token permissions
    Principal scoped = new Principal("anon-abc", true, io.syncedstore.api.auth.Scopes.fromJson(io.syncedstore.api.Json.mapper().readTree(
        "{\"responses\": {\"respondent\": \"anon-abc\", \"n\": 2, \"open\": true, \"none\": null}, \"forms\": {}}")),
        java.util.Set.of("read", "write"));
    AppInstance.Push push = roundTrip(new AppInstance.Push("g1", "c1", scoped, List.of(TestApp.put(1, "a", 1)), ref()));
    assertEquals(scoped.scopes().fingerprint(), push.principal().scopes().fingerprint(), "the same scopes, the same cookies");
    roundTrip(new AppInstance.Pull("g1", "0123456789ab~1f2e3d4c5b6a7988:3", scoped, ref()));
    roundTrip(new AppInstance.RunAction(scoped, "countTodos", json(Map.of()), ref()));
    roundTrip(new AppInstance.ChangeMembership("alice", io.syncedstore.api.Membership.ADD_USER,
        json(Map.of("userId", "alice", "permissions", List.of("write"))), ref()));
    roundTrip(new ClientSession.ChangePrincipal(scoped));
    roundTrip(new ClientSession.ClientError(ErrorCode.RATE_LIMITED, "over the quota", 4429, 480L));
    roundTrip(new ClientSession.ClientError(ErrorCode.BAD_MESSAGE, "bad", 4400));
  }

  @Test
  void theSelfSentFlushToo() throws Exception {
    // private, but a Command like every other: it must not be the one message that cannot be serialized
    Class<?> flushClass = Class.forName("io.syncedstore.runtime.AppInstance$Flush");
    Object flush = flushClass.getEnumConstants()[0];
    assertEquals(flush, roundTrip(flush));
  }

  @Test
  void replies() {
    PushResult push = new PushResult(7, List.of(
        new MutationResult(5, "duplicate", null, null),
        new MutationResult(6, "applied", null, null),
        new MutationResult(7, "failed", ErrorCode.MUTATOR_FAILED, "boom failed: kaboom")), "0123456789ab:42");
    roundTrip(push);
    Map<String, Long> changes = new LinkedHashMap<>();
    changes.put("c1", 7L);
    changes.put("c2", 1L);
    PullResult pull = new PullResult("0123456789ab:42", false, changes, List.of(
        PatchOp.put("public", "kv", "a", "", json(Map.of("x", List.of(1, 2)))),
        PatchOp.put("private", "notes", "n", "sort", json("text")),
        PatchOp.del("public", "kv", "b")), true);
    roundTrip(pull);
    roundTrip(new PullResult("0123456789ab:0", true, Map.of(), List.of(PatchOp.CLEAR), false));

    // the StatusReply envelopes (Pekko's own serializer), with the jackson payload inside
    StatusReply<PushResult> success = StatusReply.success(push);
    roundTripWith(serialization().findSerializerFor(success), success);
    StatusReply<PullResult> pullSuccess = StatusReply.success(pull);
    roundTripWith(serialization().findSerializerFor(pullSuccess), pullSuccess);
    StatusReply<PushResult> error = InstanceErrors.reply(ErrorCode.MUTATION_ID_GAP, "client c1: expected mutation id 2, got 3");
    StatusReply<PushResult> errorBack = roundTripWith(serialization().findSerializerFor(error), error);
    assertEquals(ErrorCode.MUTATION_ID_GAP, InstanceErrors.unwrap(errorBack.getError()).code());
  }

  @Test
  void events() {
    roundTrip(new InstanceCreated("0123456789ab", "test", 3, 1_700_000_000_000L));

    MutationRequest m = complexMutation(9);
    List<Write> writes = List.of(
        Write.put(TestApp.KV, "a", "", json(Map.of("n", 1))),
        Write.put(TableAddress.privateTable("user-1", "notes"), "n", "sort-1", json(List.of("x", 2.5, true))),
        Write.put(TableAddress.serverOnlyTable("secrets"), "s", "", json("text")),
        Write.delete(TestApp.KV, "gone"));
    MutationApplied applied = roundTrip(new MutationApplied("g1", "c1", 9, "put", m.args(), "user-1", m.timestamp(), writes,
        List.of(new EnqueuedAction("notify", json(Map.of("to", "x"))))));
    assertTrue(applied.writes().get(3).isDelete(), "a delete must stay a delete");
    roundTrip(new MutationApplied("g1", "c1", 10, "put", m.args(), null, m.timestamp(), List.of(), List.of()));

    roundTrip(new MutationFailed("g1", "c1", 11, "boom", m.args(), null, m.timestamp(), ErrorCode.MUTATOR_FAILED, "boom failed: kaboom"));
    roundTrip(new MutationFailed("g1", "c1", 12, "nope", json(Map.of()), "user-1", m.timestamp(), ErrorCode.UNKNOWN_MUTATOR,
        "app 'test' has no mutator 'nope'"));
  }

  @Test
  void snapshotOfARealStateRestoresTheSameState() {
    InstanceState state = InstanceState.empty(2);
    List<io.syncedstore.runtime.journal.InstanceEvent> events = new ArrayList<>();
    events.add(new InstanceCreated("0123456789ab", "test", 1, 0));
    for (int i = 1; i <= 6; i++) {
      events.add(new MutationApplied("g1", "c1", i, "put", json(Map.of()), null, 0,
          List.of(Write.put(TestApp.KV, "k" + i, "", json(i))), List.of()));
    }
    events.add(new MutationApplied("g1", "c1", 7, "note", json(Map.of()), "user-1", 0,
        List.of(Write.put(TableAddress.privateTable("user-1", "notes"), "n", "s", json("secret"))), List.of()));
    // three deletes, with max-tombstones 2: the oldest is pruned and the horizon moves
    for (int i = 1; i <= 3; i++) {
      events.add(new MutationApplied("g2", "c2", i, "del", json(Map.of()), null, 0, List.of(Write.delete(TestApp.KV, "k" + i)), List.of()));
    }
    events.add(new MutationFailed("g2", "c3", 1, "boom", json(Map.of()), "user-2", 0, ErrorCode.MUTATOR_FAILED, "x"));
    for (io.syncedstore.runtime.journal.InstanceEvent event : events) {
      state = state.apply(event);
    }
    assertTrue(state.store().horizon() > 0, "the test needs a pruned tombstone");

    InstanceSnapshot snapshot = state.toSnapshot();
    InstanceSnapshot back = roundTrip(snapshot);
    InstanceState restored = InstanceState.fromSnapshot(back, 2);

    assertEquals(state.version(), restored.version());
    assertEquals(state.epoch(), restored.epoch());
    assertEquals(state.store().horizon(), restored.store().horizon());
    assertEquals(state.store().tombstones(), restored.store().tombstones());
    for (String client : List.of("c1", "c2", "c3")) {
      assertEquals(state.client(client), restored.client(client));
      assertEquals(state.failuresSince(client, null), restored.failuresSince(client, null));
    }
    assertEquals(1, restored.failuresSince("c3", null).size(), "the failure of c3 survives the snapshot");
    // a snapshot written before failures were kept has none: it still restores
    InstanceSnapshot old = new InstanceSnapshot(back.epoch(), back.version(), back.store(), back.clients(), null);
    assertEquals(List.of(), InstanceState.fromSnapshot(old, 2).failuresSince("c3", null));
    for (long v = 0; v <= state.version() + 1; v++) {
      Cookie from = v == 0 ? null : new Cookie("0123456789ab", v);
      for (String group : List.of("g1", "g2")) {
        for (String user : new String[] {null, "user-1", "user-2"}) {
          assertEquals(state.patchSince(from, group, Principal.userOrAnonymous(user)), restored.patchSince(from, group, Principal.userOrAnonymous(user)),
              "patch from " + from + " for " + group + "/" + user);
        }
      }
    }
    roundTrip(InstanceState.empty(5).toSnapshot()); // the empty state: no epoch yet
    roundTrip(new InstanceSnapshot("e", 0, new EntryStore.Exported(0, List.of()), List.of()));
  }

  @Test
  void instanceId() {
    assertEquals("test|i-1.x_y", roundTrip(new InstanceId("test", "i-1.x_y")).persistenceId());
  }

  @Test
  void jsonValuesKeepTheirMeaning() {
    // the wire and the journal are JSON: numbers come back as the JSON they were
    JsonNode args = TestApp.putArgs("k", Map.of("big", Long.MAX_VALUE, "small", 1, "fraction", 0.1));
    MutationRequest m = new MutationRequest(1, "put", args, 0);
    AppInstance.Push push = roundTrip(new AppInstance.Push("g", "c", Principal.ANONYMOUS, List.of(m), ref()));
    assertEquals(Long.MAX_VALUE, push.mutations().get(0).args().get("value").get("big").longValue());
    assertEquals(0.1, push.mutations().get(0).args().get("value").get("fraction").doubleValue());
  }
}
