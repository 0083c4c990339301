package io.syncedstore.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.Membership;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.auth.Principal;
import io.syncedstore.api.auth.Scopes;
import io.syncedstore.api.exec.EnqueuedAction;
import io.syncedstore.api.protocol.MutationRequest;
import io.syncedstore.api.protocol.PatchOp;
import io.syncedstore.api.store.EntryStore;
import io.syncedstore.api.store.TableAddress;
import io.syncedstore.api.store.Write;
import io.syncedstore.runtime.AppInstance.MutationResult;
import io.syncedstore.runtime.AppInstance.PullResult;
import io.syncedstore.runtime.AppInstance.PushResult;
import io.syncedstore.runtime.journal.ActionCompleted;
import io.syncedstore.runtime.journal.InstanceCreated;
import io.syncedstore.runtime.journal.InstanceEvent;
import io.syncedstore.runtime.journal.InstanceSnapshot;
import io.syncedstore.runtime.journal.MutationApplied;
import io.syncedstore.runtime.journal.MutationFailed;
import java.lang.reflect.Constructor;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.lang.reflect.WildcardType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.apache.pekko.actor.testkit.typed.annotations.JUnit5TestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.JUnit5TestKitBuilder;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestKitJUnit5Extension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.cluster.sharding.typed.ShardingEnvelope;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.serialization.DisabledJavaSerializer;
import org.apache.pekko.serialization.JavaSerializer;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.apache.pekko.serialization.jackson.JacksonJsonSerializer;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Every message that may cross nodes in the cluster profile (commands of instances and sessions,
 * what sessions write to sockets, the registry's commands, their replies, sharding's envelope) and
 * every persisted event and snapshot round-trips through Pekko's serialization, configured where
 * serialization is concerned like production's cluster profile: {@code provider = cluster},
 * Java serialization off, this module's {@code reference.conf} bindings.
 *
 * <p>Coverage is enumerated, not listed: the message types are the leaves of the sealed command
 * hierarchies, every concrete {@link JsonSerializable} class of this module, and every type an
 * {@code ActorRef} component of those messages replies with. A new message type that is not
 * {@link LocalOnly} fails {@link #everyCrossNodeTypeHasSamples()} until it gets samples here.
 *
 * <p>{@link #aShortRealFlowWithEveryMessageSerialized()} runs pushes, pulls, a connected session
 * and actions with {@code serialize-messages = on}: Pekko then serializes every message actually
 * sent (it skips {@link LocalOnly} ones and, by its {@code no-serialization-verification-needed-class-prefix},
 * its own classes such as {@link StatusReply} and {@link ShardingEnvelope}, which the round trips
 * here cover).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith({TestKitJUnit5Extension.class, LogCapturingExtension.class})
class MessageSerializationTest {
  /** How long a test waits for a message that must come: a bound against hanging, not a speed claim. */
  private static final Duration ANSWER = Duration.ofSeconds(10);

  /**
   * What production's cluster profile sets about serialization ({@code config/cluster.conf},
   * {@code synced-store-persistence-defaults.conf}; the persistence module is not a dependency of
   * this one), over the in-memory journal and this module's {@code reference.conf}.
   */
  private static final Config CONFIG = TestApp.persistenceConfig("""
      pekko.actor.provider = cluster
      pekko.actor.allow-java-serialization = off
      pekko.actor.serialize-messages = on
      pekko.actor.serialize-creators = off
      pekko.remote.artery.transport = tcp
      pekko.remote.artery.canonical.hostname = "127.0.0.1"
      pekko.remote.artery.canonical.port = 0
      pekko.cluster.jmx.enabled = off
      pekko.cluster.sharding.passivation.strategy = none
      """);

  @JUnit5TestKit
  ActorTestKit testKit = new JUnit5TestKitBuilder().withCustomConfig(CONFIG).build();

  /** The sealed hierarchies whose leaves are messages (or persisted events). */
  private static final List<Class<?>> MESSAGE_ROOTS = List.of(AppInstance.Command.class, ClientSession.Command.class,
      SocketOut.class, InstanceRegistry.Command.class, ActionWorker.Command.class, InstanceEvent.class);

  private Serialization serialization() {
    return SerializationExtension.get(testKit.system().classicSystem());
  }

  private <R> ActorRef<R> ref() {
    TestProbe<R> probe = testKit.createTestProbe();
    return probe.ref();
  }

  // ---------------------------------------------------------------------------------------------
  // enumeration

  /** @return the concrete leaves of {@code root}'s sealed hierarchy */
  private static Set<Class<?>> leaves(Class<?> root) {
    Set<Class<?>> leaves = new LinkedHashSet<>();
    Deque<Class<?>> todo = new ArrayDeque<>(List.of(root));
    while (!todo.isEmpty()) {
      Class<?> c = todo.pop();
      if (c.isSealed()) {
        todo.addAll(List.of(c.getPermittedSubclasses()));
      } else {
        assertTrue(c.isEnum() || c.isRecord() || Modifier.isFinal(c.getModifiers()),
            () -> c.getName() + " (under " + root.getName() + ") is neither sealed nor final: its subtypes cannot be enumerated");
        leaves.add(c);
      }
    }
    return leaves;
  }

  /** @return every concrete class of this module (its compiled classes, a directory or a jar) that is {@link JsonSerializable} */
  private static Set<Class<?>> jsonSerializableClassesOfThisModule() throws Exception {
    Path location = Path.of(JsonSerializable.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    List<String> files;
    if (Files.isDirectory(location)) {
      try (Stream<Path> walk = Files.walk(location)) {
        files = walk.filter(p -> p.toString().endsWith(".class")).map(p -> location.relativize(p).toString().replace('\\', '/')).toList();
      }
    } else {
      try (ZipFile jar = new ZipFile(location.toFile())) {
        files = jar.stream().map(ZipEntry::getName).filter(n -> n.endsWith(".class")).toList();
      }
    }
    Set<Class<?>> found = new LinkedHashSet<>();
    for (String file : files) {
      String name = file.substring(0, file.length() - ".class".length()).replace('/', '.');
      if (name.endsWith("module-info") || name.endsWith("package-info")) {
        continue;
      }
      Class<?> c = Class.forName(name, false, MessageSerializationTest.class.getClassLoader());
      if (JsonSerializable.class.isAssignableFrom(c) && !c.isInterface() && !Modifier.isAbstract(c.getModifiers())
          && !c.isAnonymousClass()) {
        found.add(c);
      }
    }
    assertTrue(found.contains(AppInstance.Push.class), () -> "the class scan of " + location + " found too little: " + found);
    return found;
  }

  /** @return the type arguments of {@code ActorRef} components of {@code message}: what it is answered with */
  private static List<Type> replyTypes(Class<?> message) {
    List<Type> replies = new ArrayList<>();
    if (message.isRecord()) {
      for (RecordComponent component : message.getRecordComponents()) {
        if (component.getGenericType() instanceof ParameterizedType p && p.getRawType() == ActorRef.class) {
          replies.add(p.getActualTypeArguments()[0]);
        }
      }
    }
    return replies;
  }

  /** @return {@code type} without package names: {@code StatusReply<AppInstance.PushResult>} */
  private static String describe(Type type) {
    if (type instanceof Class<?> c) {
      String canonical = c.getCanonicalName() != null ? c.getCanonicalName() : c.getName();
      return c.getPackageName().isEmpty() ? canonical : canonical.substring(c.getPackageName().length() + 1);
    }
    if (type instanceof ParameterizedType p) {
      return describe(p.getRawType()) + Stream.of(p.getActualTypeArguments()).map(MessageSerializationTest::describe)
          .collect(Collectors.joining(", ", "<", ">"));
    }
    if (type instanceof WildcardType w) {
      return w.getTypeName();
    }
    return type.getTypeName();
  }

  /** Everything that may cross nodes, by reflection over the code. */
  private record Enumeration(Set<Class<?>> crossNode, Set<Class<?>> localOnly, Set<String> statusReplies) {}

  private static Enumeration enumerate() throws Exception {
    Set<Class<?>> all = new LinkedHashSet<>();
    MESSAGE_ROOTS.forEach(root -> all.addAll(leaves(root)));
    all.addAll(jsonSerializableClassesOfThisModule());
    Set<Class<?>> crossNode = new LinkedHashSet<>();
    Set<Class<?>> localOnly = new LinkedHashSet<>();
    for (Class<?> c : all) {
      (LocalOnly.class.isAssignableFrom(c) ? localOnly : crossNode).add(c);
    }
    // What cross-node messages are answered with crosses nodes too.
    Set<String> statusReplies = new TreeSet<>();
    for (Class<?> message : List.copyOf(crossNode)) {
      for (Type reply : replyTypes(message)) {
        if (reply instanceof Class<?> c) {
          if (c.isSealed()) {
            assertTrue(MESSAGE_ROOTS.contains(c), () -> message.getName() + " is answered with " + c.getName()
                + ", a sealed hierarchy this test does not enumerate: add it to MESSAGE_ROOTS");
          } else if (!LocalOnly.class.isAssignableFrom(c)) {
            crossNode.add(c);
          }
        } else if (reply instanceof ParameterizedType p && p.getRawType() == StatusReply.class) {
          statusReplies.add(describe(p));
        } else {
          fail(message.getName() + " is answered with " + describe(reply) + ", which this test does not know how to sample");
        }
      }
    }
    return new Enumeration(crossNode, localOnly, statusReplies);
  }

  // ---------------------------------------------------------------------------------------------
  // samples: realistic, fully populated, with the values that break serializers

  /** A JSON value with what breaks serializers: exact decimals, huge numbers, unicode, nulls, nesting, empty containers. */
  private static final String TRICKY_JSON = """
      {"text": "h\\u00e9llo \\"quoted\\" \\u2603 \\ud83d\\ude00 \\u05e2\\u05d1\\u05e8\\u05d9\\u05ea \\u2028 \\u0000 \\\\ end",
       "": "an empty key",
       "decimal": 123456789012345678901234567890.123456789012345678901234567891,
       "huge": 1e400, "tiny": -1e-400, "fraction": 0.1, "scaled": 1.50, "negative": -7,
       "long": 9223372036854775807, "minLong": -9223372036854775808, "beyondLong": 18446744073709551616,
       "bool": false, "nothing": null,
       "list": [1, "two", [3], {"four": 4}, [], {}, null, true],
       "nested": {"a": {"b": {"c": [1.5, -2.25e-10, {"d": "\\ud83d\\udc4d"}]}}}}
      """;

  private static JsonNode tricky() {
    return parse(TRICKY_JSON);
  }

  /** @return {@code text} read as the gateway reads client input */
  private static JsonNode parse(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (JsonProcessingException e) {
      throw new AssertionError(e);
    }
  }

  private static ObjectNode putArgs(String key, JsonNode value) {
    ObjectNode args = JsonNodeFactory.instance.objectNode();
    args.put("key", key);
    args.set("value", value);
    return args;
  }

  private static final Principal SCOPED = new Principal("anon-\u00e9\ud83d\ude00", true, Scopes.fromJson(parse("""
      {"responses": {"respondent": "$userId", "n": 2, "ratio": 0.25, "open": true, "none": null},
       "forms": {}, "\\u00fcml\\u00e4ut": {"k": "\\u2603"}}""")), Set.of("read", "write", "admin:\u00e9"));

  private static final List<Principal> PRINCIPALS = List.of(SCOPED, Principal.ANONYMOUS, Principal.user("user-1"),
      new Principal("mixed-anon-7", true, null, Set.of()));

  private static List<MutationRequest> mutations() {
    return List.of(
        new MutationRequest(1, "put", putArgs("key/with:odd chars \u2603", tricky()), TestApp.TS),
        new MutationRequest(2, "del", parse("{\"key\": \"a\"}"), TestApp.TS + 1),
        new MutationRequest(Long.MAX_VALUE, "note", putArgs("", parse("[]")), Long.MIN_VALUE));
  }

  private static final InstanceId ID = new InstanceId("test", "i-1.x_Y");

  private static PushResult pushResult() {
    return new PushResult(7, List.of(
        new MutationResult(5, "duplicate", null, null),
        new MutationResult(6, "applied", null, null),
        new MutationResult(7, "failed", ErrorCode.MUTATOR_FAILED, "put failed: k\u00e9y \ud83d\ude00 \"quoted\"")),
        "0123456789ab~1f2e3d4c5b6a7988:42");
  }

  private static PullResult pullResult() {
    Map<String, Long> changes = new LinkedHashMap<>();
    changes.put("c1", 7L);
    changes.put("c\u00e9", Long.MAX_VALUE);
    return new PullResult("0123456789ab:42", true, changes, List.of(
        PatchOp.CLEAR,
        PatchOp.put("public", "kv", "a", "", tricky()),
        PatchOp.put("private", "notes", "n \u2603", "sort", parse("\"text\"")),
        PatchOp.put("public", "kv", "null-valued", "", NullNode.getInstance()),
        PatchOp.del("public", "kv", "b")), true);
  }

  private static InstanceSnapshot snapshotOfARealState() {
    InstanceState state = InstanceState.empty(2);
    List<InstanceEvent> events = new ArrayList<>(List.of(
        new InstanceCreated("0123456789ab", "test", 1, TestApp.TS),
        new MutationApplied("g1", "c1", 1, "put", tricky(), "user-1", TestApp.TS,
            List.of(Write.put(TestApp.KV, "k", "", tricky()),
                Write.put(TableAddress.privateTable("user-1", "notes"), "n", "s", parse("\"secret \u2603\"")),
                Write.put(TableAddress.serverOnlyTable("secrets"), "s", "", parse("[1.5, null]"))),
            List.of(new EnqueuedAction("notify", tricky(), 0), new EnqueuedAction("later", parse("{}"), Long.MAX_VALUE)))));
    for (int i = 1; i <= 3; i++) {
      events.add(new MutationApplied("g2", "c2", i, "del", parse("{}"), null, 0, List.of(Write.delete(TestApp.KV, "k" + i)), List.of()));
    }
    events.add(new MutationFailed("g2", "c3", 1, "boom", parse("{}"), "user-2", 0, ErrorCode.MUTATOR_FAILED, "boom \u2603"));
    for (InstanceEvent event : events) {
      state = state.apply(event);
    }
    InstanceSnapshot snapshot = state.toSnapshot();
    assertFalse(snapshot.actions().isEmpty() || snapshot.failures().isEmpty() || snapshot.store().rows().isEmpty(),
        () -> "the sample snapshot must hold rows, failures and actions: " + snapshot);
    return snapshot;
  }

  /** @return an instance of the private record or enum {@code simpleName} nested in {@code outer} */
  private static Object privateMessage(Class<?> outer, String simpleName, Object... args) {
    try {
      Class<?> c = Class.forName(outer.getName() + "$" + simpleName);
      if (c.isEnum()) {
        return c.getEnumConstants()[0];
      }
      Constructor<?> canonical = c.getDeclaredConstructor(Stream.of(c.getRecordComponents()).map(RecordComponent::getType)
          .toArray(Class<?>[]::new));
      canonical.setAccessible(true);
      return canonical.newInstance(args);
    } catch (ReflectiveOperationException e) {
      throw new AssertionError("cannot build " + outer.getSimpleName() + "." + simpleName, e);
    }
  }

  /** Samples of every cross-node class, several where a field may be absent, empty or null. */
  private Map<Class<?>, List<Object>> samples() {
    Map<Class<?>, List<Object>> samples = new LinkedHashMap<>();
    Function<Class<?>, List<Object>> at = c -> samples.computeIfAbsent(c, k -> new ArrayList<>());

    // AppInstance.Command
    for (Principal p : PRINCIPALS) {
      at.apply(AppInstance.Push.class).add(new AppInstance.Push("g\u00e9", "c1", p, mutations(), ref()));
      at.apply(AppInstance.Pull.class).add(new AppInstance.Pull("g1", "0123456789ab~1f2e3d4c5b6a7988:3", p, ref()));
      at.apply(AppInstance.Connect.class).add(new AppInstance.Connect("g1", "c1", p, "0123456789ab:3", 7, ref(), ref()));
      at.apply(AppInstance.RunAction.class).add(new AppInstance.RunAction(p, "sum \u2603", tricky(), ref()));
    }
    at.apply(AppInstance.Push.class).add(new AppInstance.Push("g1", "c1", Principal.ANONYMOUS, List.of(), ref()));
    at.apply(AppInstance.Push.class).add(new AppInstance.Push("g1", "c1", "user-1",
        IntStream.rangeClosed(1, 1000).mapToObj(i -> TestApp.put(i, "key-" + i, "value-" + i)).toList(), ref())); // > 32 KiB: gzip
    at.apply(AppInstance.Pull.class).add(new AppInstance.Pull("g1", null, Principal.ANONYMOUS, ref()));
    at.apply(AppInstance.Connect.class).add(new AppInstance.Connect("g1", "c1", Principal.ANONYMOUS, null, 0, ref(), ref()));
    at.apply(AppInstance.RunAction.class).add(new AppInstance.RunAction(Principal.ANONYMOUS, "noInput", NullNode.getInstance(), ref()));
    at.apply(AppInstance.RunAction.class).add(new AppInstance.RunAction(Principal.ANONYMOUS, "emptyInput", parse("{}"), ref()));
    at.apply(AppInstance.GetActionStatus.class).add(new AppInstance.GetActionStatus(ref()));
    at.apply(AppInstance.ActionMutate.class).add(new AppInstance.ActionMutate(-1, "user-1", "put", putArgs("k", tricky()), ref()));
    at.apply(AppInstance.ActionMutate.class).add(new AppInstance.ActionMutate(42, null, "del", parse("{\"key\": \"k\"}"), ref()));
    at.apply(AppInstance.ChangeMembership.class).add(new AppInstance.ChangeMembership("alice \u2603", Membership.ADD_USER,
        parse("{\"userId\": \"alice \\u2603\", \"permissions\": [\"write\"], \"info\": {\"score\": 0.5}}"), ref()));
    at.apply(AppInstance.ChangeMembership.class).add(new AppInstance.ChangeMembership("bob", Membership.REMOVE_USER,
        parse("{\"userId\": \"bob\"}"), ref()));
    at.apply(AppInstance.Stop.class).add(AppInstance.Stop.INSTANCE);
    at.apply(AppInstance.ListSessions.class).add(new AppInstance.ListSessions(ref()));

    // ClientSession.Command
    at.apply(ClientSession.ClientPush.class).add(new ClientSession.ClientPush(mutations(), ref()));
    at.apply(ClientSession.ClientPush.class).add(new ClientSession.ClientPush(List.of(), ref()));
    at.apply(ClientSession.ClientAction.class).add(new ClientSession.ClientAction("call-1 \u2603", "sum", tricky()));
    at.apply(ClientSession.ClientAction.class).add(new ClientSession.ClientAction("call-2", "noInput", NullNode.getInstance()));
    at.apply(ClientSession.ClientPing.class).add(ClientSession.ClientPing.INSTANCE);
    at.apply(ClientSession.ClientError.class).add(new ClientSession.ClientError(ErrorCode.RATE_LIMITED, "over the quota \u2603", 4429, 480L));
    at.apply(ClientSession.ClientError.class).add(new ClientSession.ClientError(ErrorCode.BAD_MESSAGE, "bad", 4400));
    at.apply(ClientSession.SocketClosed.class).add(ClientSession.SocketClosed.INSTANCE);
    at.apply(ClientSession.Delivered.class).add(ClientSession.Delivered.INSTANCE);
    at.apply(ClientSession.DeliveredUpTo.class).add(new ClientSession.DeliveredUpTo(Long.MAX_VALUE - 1));
    at.apply(ClientSession.GetStats.class).add(new ClientSession.GetStats(ref()));
    PRINCIPALS.forEach(p -> at.apply(ClientSession.ChangePrincipal.class).add(new ClientSession.ChangePrincipal(p)));

    // SocketOut
    at.apply(SocketOut.Text.class).add(new SocketOut.Text(Json.text(tricky()), ref()));
    at.apply(SocketOut.Text.class).add(new SocketOut.Text("{\"type\":\"pong\"}", null));
    at.apply(SocketOut.Text.class).add(new SocketOut.Text("{\"type\":\"pong\"}", ref(), 42));
    at.apply(SocketOut.Close.class).add(new SocketOut.Close(4429, "too many \u2603 \ud83d\ude00"));
    at.apply(SocketOut.Close.class).add(new SocketOut.Close(1000, ""));

    // InstanceRegistry.Command
    at.apply(InstanceRegistry.Deliver.class).add(new InstanceRegistry.Deliver(ID, new AppInstance.Push("g1", "c1", SCOPED, mutations(), ref())));
    at.apply(InstanceRegistry.Deliver.class).add(new InstanceRegistry.Deliver(ID, AppInstance.Stop.INSTANCE));
    at.apply(InstanceRegistry.StillActive.class).add(new InstanceRegistry.StillActive(ID));
    at.apply(InstanceRegistry.WakeAt.class).add(new InstanceRegistry.WakeAt(ID, Long.MAX_VALUE));
    Object stopped = privateMessage(InstanceRegistry.class, "Stopped", ID);
    at.apply(stopped.getClass()).add(stopped);
    Object tick = privateMessage(InstanceRegistry.class, "Tick");
    at.apply(tick.getClass()).add(tick);

    // persisted events and snapshots
    at.apply(InstanceCreated.class).add(new InstanceCreated("0123456789ab", "test \u2603", 3, TestApp.TS));
    at.apply(MutationApplied.class).add(new MutationApplied("g1", "c1", 9, "put", tricky(), "user-1", TestApp.TS,
        List.of(Write.put(TestApp.KV, "a \u2603", "", tricky()),
            Write.put(TableAddress.privateTable("user-1", "notes"), "n", "sort-1", parse("[\"x\", 2.5, true]")),
            Write.put(TableAddress.serverOnlyTable("secrets"), "s", "", parse("\"text\"")),
            Write.delete(TestApp.KV, "gone")),
        List.of(new EnqueuedAction("notify", tricky(), 0), new EnqueuedAction("remind", parse("{}"), TestApp.TS + 60_000)),
        List.of("c1:3:0", "c1:4:1")));
    at.apply(MutationApplied.class).add(new MutationApplied("g1", "c1", 10, "put", parse("{}"), null, 0, List.of(), List.of(), null));
    at.apply(MutationFailed.class).add(new MutationFailed("g1", "c1", 11, "boom", tricky(), null, TestApp.TS,
        ErrorCode.MUTATOR_FAILED, "boom failed: kaboom \u2603"));
    at.apply(ActionCompleted.class).add(new ActionCompleted("c1:3:0", null, null));
    at.apply(ActionCompleted.class).add(new ActionCompleted("c1:4:1", ErrorCode.ACTION_TIMEOUT, "ran longer than 30s \u2603"));
    at.apply(InstanceSnapshot.class).add(snapshotOfARealState());
    at.apply(InstanceSnapshot.class).add(InstanceState.empty(5).toSnapshot());
    InstanceSnapshot real = snapshotOfARealState();
    at.apply(InstanceSnapshot.class).add(new InstanceSnapshot(real.epoch(), real.version(), real.store(), real.clients(), null, null));
    at.apply(InstanceSnapshot.class).add(new InstanceSnapshot("e", 0, new EntryStore.Exported(0, List.of()), List.of()));
    at.apply(InstanceId.class).add(ID);

    // replies
    at.apply(PushResult.class).add(pushResult());
    at.apply(PushResult.class).add(new PushResult(0, List.of(), "0:0"));
    at.apply(PullResult.class).add(pullResult());
    at.apply(PullResult.class).add(new PullResult("0123456789ab:0", false, Map.of(), List.of(), false));
    at.apply(AppInstance.Sessions.class).add(new AppInstance.Sessions(List.of(ref(), ref())));
    at.apply(AppInstance.Sessions.class).add(new AppInstance.Sessions(List.of()));
    at.apply(AppInstance.ActionStatus.class).add(new AppInstance.ActionStatus(1, 2, 3, Integer.MAX_VALUE));
    at.apply(ClientSession.Accepted.class).add(ClientSession.Accepted.INSTANCE);
    at.apply(ClientSession.Stats.class).add(new ClientSession.Stats("c1", "user-\u2603", 3, 32, Long.MAX_VALUE, 5, 1, "0123456789ab:42"));
    at.apply(ClientSession.Stats.class).add(new ClientSession.Stats("c1", null, 0, 0, 0, 0, 0, null));
    return samples;
  }

  /** Action outputs: the payloads of {@code StatusReply<JsonNode>}, bound to jackson-json on their own. */
  private static List<JsonNode> jsonNodes() {
    return List.of(tricky(), parse("[1, [2, [3]], {}, []]"), parse("\"\\u2603 text\""), parse("123456789012345678901234567890.5"),
        parse("18446744073709551616"), parse("-7"), parse("true"), NullNode.getInstance(), parse("{}"));
  }

  /** Samples of every {@code StatusReply<...>} cross-node messages are answered with, by {@link #describe}; each with an error. */
  private Map<String, List<StatusReply<?>>> statusReplySamples() {
    Map<String, List<StatusReply<?>>> replies = new LinkedHashMap<>();
    replies.put("StatusReply<AppInstance.PushResult>", List.of(StatusReply.success(pushResult()), StatusReply.success(new PushResult(0, List.of(), "0:0")),
        InstanceErrors.reply(ErrorCode.MUTATION_ID_GAP, "client c1: expected mutation id 2, got 3 \u2603")));
    replies.put("StatusReply<AppInstance.PullResult>", List.of(StatusReply.success(pullResult()),
        InstanceErrors.reply(new SyncException(ErrorCode.BAD_REQUEST, "invalid cookie '\ud83d\ude00'"))));
    List<StatusReply<?>> outputs = new ArrayList<>();
    jsonNodes().forEach(node -> outputs.add(StatusReply.success(node)));
    outputs.add(InstanceErrors.reply(ErrorCode.ACTION_FAILED, "sum failed: / by zero"));
    outputs.add(InstanceErrors.reply(ErrorCode.ACTION_TIMEOUT, ""));
    replies.put("StatusReply<JsonNode>", outputs);
    replies.put("StatusReply<ActorRef<ClientSession.Command>>", List.of(StatusReply.success(this.<ClientSession.Command>ref()),
        InstanceErrors.reply(ErrorCode.SCHEMA_VERSION_MISMATCH, "client schema 1, server schema 2")));
    return replies;
  }

  // ---------------------------------------------------------------------------------------------
  // round trips

  private Serializer jacksonJson() {
    return serialization().serializerByIdentity().apply(serialization().settings().config()
        .getInt("pekko.actor.serialization-identifiers.jackson-json"));
  }

  private record RoundTrip(Object back, Serializer serializer, byte[] bytes) {}

  private RoundTrip serializeAndBack(Object value) {
    Serializer serializer = serialization().findSerializerFor(value);
    assertFalse(serializer instanceof JavaSerializer || serializer instanceof DisabledJavaSerializer,
        () -> value.getClass().getName() + " would need Java serialization: " + serializer.getClass().getName());
    byte[] bytes = serialization().serialize(value).get();
    Object back = serialization().deserialize(bytes, serializer.identifier(), Serializers.manifestFor(serializer, value)).get();
    return new RoundTrip(back, serializer, bytes);
  }

  /** Asserts {@code value} goes through jackson-json as JSON and comes back equal; returns the copy. */
  private Object jsonRoundTrip(Object value) {
    RoundTrip r = serializeAndBack(value);
    assertInstanceOf(JacksonJsonSerializer.class, r.serializer(), () -> value.getClass().getName() + " must be serialized by jackson-json");
    assertEquals(jacksonJson().identifier(), r.serializer().identifier());
    boolean gzipped = r.bytes().length > 2 && (r.bytes()[0] & 0xff) == 0x1f && (r.bytes()[1] & 0xff) == 0x8b;
    String text = gzipped ? "(gzip)" : new String(r.bytes(), StandardCharsets.UTF_8);
    if (!gzipped) {
      parse(text); // it is JSON
    }
    assertEquals(value, r.back(), () -> "round trip of " + value.getClass().getName() + " via " + text);
    if (!(value instanceof Enum<?> || value instanceof NullNode || value instanceof BooleanNode)) { // singletons
      assertNotSame(value, r.back(), "must be a copy");
    }
    return r.back();
  }

  /** Asserts the {@link StatusReply} comes back equal, its payload through jackson-json (or typed refs through Pekko's), its error code intact. */
  private void statusReplyRoundTrip(StatusReply<?> reply) {
    RoundTrip r = serializeAndBack(reply);
    assertEquals(reply, r.back(), () -> "round trip of " + reply + " via " + r.serializer().getClass().getName());
    StatusReply<?> back = (StatusReply<?>) r.back();
    if (reply.isSuccess()) {
      Object payload = reply.getValue();
      Serializer inner = serialization().findSerializerFor(payload);
      if (payload instanceof ActorRef<?> original) {
        assertEquals(original.path(), ((ActorRef<?>) back.getValue()).path(), "the ref resolves to the same actor");
      } else {
        assertInstanceOf(JacksonJsonSerializer.class, inner, () -> payload.getClass().getName() + " inside a StatusReply");
      }
    } else {
      SyncException original = InstanceErrors.unwrap(reply.getError());
      SyncException copy = InstanceErrors.unwrap(back.getError());
      assertEquals(original.code(), copy.code(), "the error code survives");
      assertEquals(original.getMessage(), copy.getMessage(), "the error message survives");
    }
  }

  @Test
  void javaSerializationIsOffAndTheBindingsAreProductions() {
    assertInstanceOf(DisabledJavaSerializer.class, serialization().findSerializerFor(new java.util.ArrayList<String>()),
        "with Java serialization off a passing round trip cannot have used it");
    assertEquals("cluster", testKit.system().settings().config().getString("pekko.actor.provider"));
    assertInstanceOf(JacksonJsonSerializer.class, serialization().findSerializerFor(tricky()), "JsonNode is bound to jackson-json");
  }

  /** The set of cross-node types found by reflection is exactly the set of types sampled here. */
  @Test
  void everyCrossNodeTypeHasSamples() throws Exception {
    Enumeration e = enumerate();
    Map<Class<?>, List<Object>> samples = samples();
    Set<String> missing = e.crossNode().stream().filter(c -> !samples.containsKey(c)).map(Class::getName).collect(Collectors.toCollection(TreeSet::new));
    Set<String> stale = samples.keySet().stream().filter(c -> !e.crossNode().contains(c)).map(Class::getName).collect(Collectors.toCollection(TreeSet::new));
    assertEquals(Set.of(), missing, "cross-node message types (not LocalOnly) without samples in MessageSerializationTest.samples()");
    assertEquals(Set.of(), stale, "samples of types that are no longer cross-node message types");
    samples.forEach((c, list) -> assertFalse(list.isEmpty(), () -> c + " has no sample"));
    assertEquals(e.statusReplies(), statusReplySamples().keySet().stream().collect(Collectors.toCollection(TreeSet::new)),
        "StatusReply types cross-node messages are answered with, and the StatusReply samples here");
    System.out.println("MessageSerializationTest: " + e.crossNode().size() + " cross-node message types, "
        + e.statusReplies().size() + " StatusReply types, " + e.localOnly().size() + " LocalOnly types");
  }

  /** Every sample of every cross-node type, one test each. */
  @TestFactory
  Stream<DynamicTest> everyCrossNodeTypeRoundTrips() {
    return samples().entrySet().stream().flatMap(entry -> IntStream.range(0, entry.getValue().size()).mapToObj(i ->
        DynamicTest.dynamicTest(describe(entry.getKey()) + " #" + (i + 1), () -> jsonRoundTrip(entry.getValue().get(i)))));
  }

  @TestFactory
  Stream<DynamicTest> everyStatusReplyRoundTrips() {
    return statusReplySamples().entrySet().stream().flatMap(entry -> IntStream.range(0, entry.getValue().size()).mapToObj(i ->
        DynamicTest.dynamicTest(entry.getKey() + " #" + (i + 1) + (entry.getValue().get(i).isError() ? " (error)" : ""),
            () -> statusReplyRoundTrip(entry.getValue().get(i)))));
  }

  @TestFactory
  Stream<DynamicTest> actionOutputsRoundTripAsBareJson() {
    return jsonNodes().stream().map(node -> DynamicTest.dynamicTest(node.getNodeType() + " " + abbreviate(node.toString()),
        () -> jsonRoundTrip(node)));
  }

  /** Sharding's envelope, as a node's router hands every instance command to the shard region. */
  @TestFactory
  Stream<DynamicTest> everyInstanceCommandRoundTripsInShardingsEnvelope() {
    Set<Class<?>> commands = leaves(AppInstance.Command.class);
    return samples().entrySet().stream().filter(e -> commands.contains(e.getKey())).flatMap(entry ->
        IntStream.range(0, entry.getValue().size()).mapToObj(i -> DynamicTest.dynamicTest(
            "ShardingEnvelope<" + describe(entry.getKey()) + "> #" + (i + 1), () -> {
              Object command = entry.getValue().get(i);
              ShardingEnvelope<Object> envelope = new ShardingEnvelope<>(ID.toString(), command);
              RoundTrip r = serializeAndBack(envelope);
              ShardingEnvelope<?> back = assertInstanceOf(ShardingEnvelope.class, r.back());
              assertEquals(ID.toString(), back.entityId());
              assertEquals(command, back.message());
              assertInstanceOf(JacksonJsonSerializer.class, serialization().findSerializerFor(command));
            })));
  }

  /** The registry's envelope holds any cross-node instance command: its list of command types must be complete. */
  @TestFactory
  Stream<DynamicTest> everyInstanceCommandRoundTripsInDeliver() {
    Set<Class<?>> commands = leaves(AppInstance.Command.class);
    return samples().entrySet().stream().filter(e -> commands.contains(e.getKey())).flatMap(entry ->
        IntStream.range(0, entry.getValue().size()).mapToObj(i -> DynamicTest.dynamicTest(
            "Deliver<" + describe(entry.getKey()) + "> #" + (i + 1),
            () -> jsonRoundTrip(new InstanceRegistry.Deliver(ID, (AppInstance.Command) entry.getValue().get(i))))));
  }

  /** A ref that went through serialization still reaches the actor: the copy's reply-to is usable. */
  @Test
  void aDeserializedReplyToReachesTheProbe() {
    TestProbe<StatusReply<PushResult>> probe = testKit.createTestProbe();
    AppInstance.Push copy = (AppInstance.Push) jsonRoundTrip(new AppInstance.Push("g1", "c1", SCOPED, mutations(), probe.ref()));
    copy.replyTo().tell(StatusReply.success(pushResult()));
    assertEquals(pushResult(), probe.receiveMessage(ANSWER).getValue());
  }

  /**
   * A JSON number is the same value on every node: {@code 1.0} read by the gateway must not become
   * a different {@code JsonNode} (and so a different mutator input) once a message carrying it
   * crossed nodes or was replayed from the journal.
   */
  @TestFactory
  Stream<DynamicTest> integralDecimalsKeepTheirNodeType() {
    return Stream.of("1.0", "-0.0", "100.00", "{\"price\": 2.0, \"list\": [3.0]}").map(text -> DynamicTest.dynamicTest(text, () -> {
      JsonNode value = parse(text);
      jsonRoundTrip(value);
      jsonRoundTrip(new ClientSession.ClientPush(List.of(new MutationRequest(1, "put", putArgs("k", value), TestApp.TS)), ref()));
    }));
  }

  /** {@link LocalOnly} types are listed; none of them is part of a cross-node message. */
  @Test
  void localOnlyTypesAreNotPartOfCrossNodeMessages() throws Exception {
    Enumeration e = enumerate();
    Map<String, Set<String>> referencedBy = new LinkedHashMap<>();
    for (Class<?> message : e.crossNode()) {
      for (Class<?> used : classesMentioned(message)) {
        if (LocalOnly.class.isAssignableFrom(used)) {
          referencedBy.computeIfAbsent(used.getName(), k -> new TreeSet<>()).add(message.getName());
        }
      }
    }
    System.out.println("MessageSerializationTest: LocalOnly types, never serialized:");
    e.localOnly().stream().sorted((a, b) -> a.getName().compareTo(b.getName())).forEach(c -> System.out.println("  "
        + (Modifier.isPublic(c.getModifiers()) ? "public  " : Modifier.isPrivate(c.getModifiers()) ? "private " : "package ")
        + describe(c)));
    assertEquals(Map.of(), referencedBy, "LocalOnly types inside cross-node messages");
  }

  /** @return the classes of {@code message}'s record components, their type arguments, and those of records among them, transitively */
  private static Set<Class<?>> classesMentioned(Class<?> message) {
    Set<Class<?>> seen = new LinkedHashSet<>();
    Deque<Type> todo = new ArrayDeque<>();
    if (message.isRecord()) {
      Stream.of(message.getRecordComponents()).map(RecordComponent::getGenericType).forEach(todo::add);
    }
    while (!todo.isEmpty()) {
      Type t = todo.pop();
      if (t instanceof ParameterizedType p) {
        todo.push(p.getRawType());
        todo.addAll(List.of(p.getActualTypeArguments()));
      } else if (t instanceof WildcardType w) {
        todo.addAll(List.of(w.getUpperBounds()));
      } else if (t instanceof Class<?> c && seen.add(c) && c.isRecord() && c.getName().startsWith("io.syncedstore.")) {
        Stream.of(c.getRecordComponents()).map(RecordComponent::getGenericType).forEach(todo::add);
      }
    }
    return seen;
  }

  private static String abbreviate(String s) {
    return s.length() > 40 ? s.substring(0, 40) + "..." : s;
  }

  // ---------------------------------------------------------------------------------------------
  // a real flow, every message sent serialized by Pekko

  private static final AtomicInteger INSTANCES = new AtomicInteger();

  /** {@link TestApp}'s mutators and two actions: one echoes its input, one writes through {@code ctx.mutate}. */
  private static final AppDefinition APP = AppDefinition.builder(TestApp.NAME)
      .table("kv", JsonNode.class)
      .table("notes", JsonNode.class)
      .mutator("put", TestApp.Put.class, (ctx, in) -> ctx.table("kv").set(in.key(), in.value()))
      .mutator("del", TestApp.Key.class, (ctx, in) -> ctx.table("kv").delete(in.key()))
      .action("echo", JsonNode.class, JsonNode.class, (ctx, in) -> {
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        out.set("input", in);
        out.put("user", ctx.userId().orElse(null));
        out.put("rows", ctx.table("kv").get("a").isPresent());
        return out;
      })
      .action("write", TestApp.Put.class, JsonNode.class, (ctx, in) -> {
        ctx.mutate("put", in);
        return null;
      })
      .build();

  @Test
  void aShortRealFlowWithEveryMessageSerialized() {
    assertTrue(testKit.system().settings().config().getBoolean("pekko.actor.serialize-messages"));
    InstanceId id = new InstanceId(TestApp.NAME, "flow-" + INSTANCES.incrementAndGet());
    ActorRef<AppInstance.Command> instance = testKit.spawn(AppInstance.create(id, APP,
        RuntimeSettings.from(testKit.system().settings().config())));
    JsonNode value = tricky();

    TestProbe<StatusReply<PushResult>> pushReply = testKit.createTestProbe();
    instance.tell(new AppInstance.Push("g1", "c1", "user-1", List.of(
        new MutationRequest(1, "put", putArgs("a", value), TestApp.TS),
        new MutationRequest(2, "nope", parse("{}"), TestApp.TS)), pushReply.ref()));
    PushResult pushed = success(pushReply);
    assertEquals(List.of("applied", "failed"), pushed.results().stream().map(MutationResult::status).toList());

    TestProbe<StatusReply<PullResult>> pullReply = testKit.createTestProbe();
    instance.tell(new AppInstance.Pull("g1", null, "user-1", pullReply.ref()));
    PullResult pulled = success(pullReply);
    assertTrue(pulled.patch().contains(PatchOp.put("public", "kv", "a", "", value)), () -> "the value survives: " + pulled.patch());

    // a connected client: the socket is a probe, acknowledging every text as the gateway does
    TestProbe<SocketOut> socket = testKit.createTestProbe();
    TestProbe<StatusReply<ActorRef<ClientSession.Command>>> connectReply = testKit.createTestProbe();
    instance.tell(new AppInstance.Connect("g2", "c2", Principal.user("user-2"), null, APP.schemaVersion(), socket.ref(), connectReply.ref()));
    ActorRef<ClientSession.Command> session = success(connectReply);
    assertEquals("connected", nextText(socket).get("type").asText());
    assertEquals("poke", nextText(socket).get("type").asText());

    TestProbe<ClientSession.Accepted> accepted = testKit.createTestProbe();
    session.tell(new ClientSession.ClientPush(List.of(new MutationRequest(1, "put", putArgs("b", value), TestApp.TS)), accepted.ref()));
    accepted.expectMessage(ANSWER, ClientSession.Accepted.INSTANCE);
    JsonNode poke = nextText(socket);
    assertEquals("poke", poke.get("type").asText());
    assertTrue(poke.toString().contains("\"b\""), () -> "the client's own write is poked: " + poke);

    session.tell(new ClientSession.ClientAction("call-1", "echo", value));
    JsonNode answer = nextText(socket);
    assertEquals("actionResult", answer.get("type").asText(), answer::toString);

    TestProbe<StatusReply<JsonNode>> actionReply = testKit.createTestProbe();
    instance.tell(new AppInstance.RunAction("user-1", "echo", value, actionReply.ref()));
    JsonNode output = success(actionReply);
    assertEquals(value, output.get("input"), "the action's input and output survive");
    instance.tell(new AppInstance.RunAction("user-1", "write", putArgs("c", value), actionReply.ref()));
    assertTrue(success(actionReply).isNull(), "a null output is JSON null");
    assertEquals("poke", nextText(socket).get("type").asText(), "ctx.mutate's write is poked");
    instance.tell(new AppInstance.RunAction("user-1", "missing", value, actionReply.ref()));
    assertEquals(ErrorCode.UNKNOWN_ACTION, InstanceErrors.unwrap(actionReply.receiveMessage(ANSWER).getError()).code());

    TestProbe<AppInstance.ActionStatus> status = testKit.createTestProbe();
    instance.tell(new AppInstance.GetActionStatus(status.ref()));
    status.receiveMessage(ANSWER);

    session.tell(new ClientSession.ChangePrincipal(Principal.user("user-2")));
    session.tell(ClientSession.ClientPing.INSTANCE);
    assertEquals("pong", nextText(socket).get("type").asText());
    TestProbe<AppInstance.Sessions> sessions = testKit.createTestProbe();
    instance.tell(new AppInstance.ListSessions(sessions.ref()));
    assertEquals(List.of(session), sessions.receiveMessage(ANSWER).sessions());
    TestProbe<ClientSession.Stats> stats = testKit.createTestProbe();
    session.tell(new ClientSession.GetStats(stats.ref()));
    assertEquals("c2", stats.receiveMessage(ANSWER).clientId());

    session.tell(new ClientSession.ClientError(ErrorCode.BAD_MESSAGE, "bad \u2603", 4400));
    SocketOut.Close close = nextClose(socket);
    assertEquals(4400, close.code());
    session.tell(ClientSession.SocketClosed.INSTANCE);
    instance.tell(AppInstance.Stop.INSTANCE);
    socket.expectTerminated(instance, ANSWER);
  }

  private static <T> T success(TestProbe<StatusReply<T>> probe) {
    StatusReply<T> reply = probe.receiveMessage(ANSWER);
    assertTrue(reply.isSuccess(), () -> "expected a success, got " + reply);
    return reply.getValue();
  }

  /** @return the next message on {@code socket}, which must be a text, acknowledged as the gateway does */
  private static JsonNode nextText(TestProbe<SocketOut> socket) {
    SocketOut out = socket.receiveMessage(ANSWER);
    SocketOut.Text text = assertInstanceOf(SocketOut.Text.class, out, () -> "expected a text, got " + out);
    ack(text);
    return parse(text.json());
  }

  private static SocketOut.Close nextClose(TestProbe<SocketOut> socket) {
    while (true) {
      SocketOut out = socket.receiveMessage(ANSWER);
      if (out instanceof SocketOut.Close close) {
        return close;
      }
      ack((SocketOut.Text) out);
    }
  }

  private static void ack(SocketOut.Text text) {
    if (text.ackTo() != null) {
      text.ackTo().tell(ClientSession.Delivered.INSTANCE);
    }
  }
}
