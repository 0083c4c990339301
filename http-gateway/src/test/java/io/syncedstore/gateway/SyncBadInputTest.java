package io.syncedstore.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocketHandshakeException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input on the sync WebSocket ({@code docs/PROTOCOL.md}, "Errors and close codes"): every
 * kind of bad input gets its documented error code and close code, with a message that names the
 * problem; and afterwards the instance still serves a client that was connected before the bad one
 * (it keeps receiving pokes of new writes) and a fresh client's initial state still holds every
 * write confirmed before the bad input (nothing acknowledged is lost).
 *
 * <p>Also the frame guard's promise, checked below the JDK client with a hand-made WebSocket over a
 * plain TCP socket: a frame header that declares more than the limit is answered with close 1009
 * at once, without the server waiting for (or buffering) the payload.
 */
@ExtendWith(LogCapturingExtension.class)
class SyncBadInputTest {
  private static final int MAX_MESSAGE_BYTES = 64 * 1024;
  private static final int MAX_JSON_DEPTH = 32;

  @TempDir
  static Path dir;

  private static SyncServer server;
  private static final AtomicInteger SCENES = new AtomicInteger();

  /** Input of the lab app's mutators. */
  record Put(String key, JsonNode value) {}

  /** An app with a public and a private table, for what an anonymous client may see. */
  static final AppDefinition LAB = AppDefinition.builder("badlab").schemaVersion(1)
      .table("kv", JsonNode.class)
      .table("notes", JsonNode.class)
      .mutator("put", Put.class, (ctx, in) -> ctx.table("kv").set(in.key(), in.value()))
      .mutator("putPrivate", Put.class,
          (ctx, in) -> ctx.privateOfUser(ctx.userId().orElseThrow()).table("notes").set(in.key(), in.value()))
      .build();

  @BeforeAll
  static void start() {
    List<AppDefinition> apps = new ArrayList<>(SyncServer.discoverApps());
    apps.add(LAB);
    server = TestServers.start(dir, apps, Map.of("synced-store.sync.max-message-bytes", MAX_MESSAGE_BYTES, "synced-store.sync.max-json-depth", MAX_JSON_DEPTH));
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Not JSON, not an object, no or unknown type

  @Test
  void malformedJsonIsBadMessage4400() {
    try (Scene scene = new Scene()) {
      for (String input : List.of("{\"type\":\"hello\",", "hello", "{type: 'ping'}", "")) {
        for (boolean afterHello : new boolean[] {false, true}) {
          try (SyncTestClient bad = scene.bad(afterHello)) {
            bad.sendRaw(input);
            expectClosed(bad, ErrorCode.BAD_MESSAGE, 4400, "not a JSON message");
          }
          scene.assertStillServes("malformed JSON " + input + (afterHello ? " after hello" : " before hello"));
        }
      }
    }
  }

  @Test
  void jsonScalarsAreBadMessage4400() {
    try (Scene scene = new Scene()) {
      for (String input : List.of("\"x\"", "1", "true", "\"{\\\"type\\\":\\\"ping\\\"}\"")) {
        for (boolean afterHello : new boolean[] {false, true}) {
          try (SyncTestClient bad = scene.bad(afterHello)) {
            bad.sendRaw(input);
            // the message names what is missing: an object with a type
            expectClosed(bad, ErrorCode.BAD_MESSAGE, 4400, "a message must be one JSON object with a \"type\"");
          }
          scene.assertStillServes("JSON scalar " + input + (afterHello ? " after hello" : " before hello"));
        }
      }
    }
  }

  @Test
  void jsonArraysAreBadMessage4400() {
    try (Scene scene = new Scene()) {
      for (String input : List.of("[1]", "[{\"type\":\"ping\"}]", "[\"ping\"]", "[\"ping\",{}]",
          "[\"push\",{\"mutations\":[" + mutation("1", "array-push") + "]}]")) {
        for (boolean afterHello : new boolean[] {false, true}) {
          try (SyncTestClient bad = scene.bad(afterHello)) {
            bad.sendRaw(input);
            JsonNode error = expectClosed(bad, ErrorCode.BAD_MESSAGE, 4400);
            String message = error.at("/error/message").asText();
            assertTrue(message.contains("object"), input + ": the message should say a message is a JSON object: " + message);
          }
          scene.assertStillServes("JSON array " + input + (afterHello ? " after hello" : " before hello"));
        }
      }
    }
  }

  @Test
  void jsonNullIsBadMessage4400() {
    try (Scene scene = new Scene()) {
      for (boolean afterHello : new boolean[] {false, true}) {
        try (SyncTestClient bad = scene.bad(afterHello)) {
          bad.sendRaw("null");
          JsonNode error = expectClosed(bad, ErrorCode.BAD_MESSAGE, 4400);
          String message = error.at("/error/message").asText();
          assertTrue(message.contains("object"), "the message should say a message is a JSON object: " + message);
        }
        scene.assertStillServes("JSON null" + (afterHello ? " after hello" : " before hello"));
      }
    }
  }

  @Test
  void textAfterTheMessageObjectIsBadMessage4400() {
    try (Scene scene = new Scene()) {
      for (String input : List.of("{\"type\":\"ping\"} trailing", "{\"type\":\"ping\"}{\"type\":\"nonsense\"}",
          push(mutation("1", "trailing")) + "]")) {
        try (SyncTestClient bad = scene.bad(true)) {
          bad.sendRaw(input);
          expectClosed(bad, ErrorCode.BAD_MESSAGE, 4400);
        }
        scene.assertStillServes("trailing text " + input);
      }
    }
  }

  @Test
  void unknownMessageTypeIsBadMessage4400() {
    try (Scene scene = new Scene()) {
      for (boolean afterHello : new boolean[] {false, true}) {
        try (SyncTestClient bad = scene.bad(afterHello)) {
          bad.sendRaw("{\"type\":\"subscribe\",\"query\":\"todos\"}");
          expectClosed(bad, ErrorCode.BAD_MESSAGE, 4400, "unknown message type 'subscribe'", "hello, push, action, auth or ping");
        }
        scene.assertStillServes("unknown type" + (afterHello ? " after hello" : " before hello"));
      }
    }
  }

  @Test
  void missingTypeIsBadMessage4400() {
    try (Scene scene = new Scene()) {
      for (String input : List.of("{\"mutations\":[]}", "{}")) {
        for (boolean afterHello : new boolean[] {false, true}) {
          try (SyncTestClient bad = scene.bad(afterHello)) {
            bad.sendRaw(input);
            expectClosed(bad, ErrorCode.BAD_MESSAGE, 4400, "needs a \"type\"");
          }
          scene.assertStillServes("missing type " + input + (afterHello ? " after hello" : " before hello"));
        }
      }
    }
  }

  @Test
  void missingOrUnknownFieldsAreBadMessage4400() {
    try (Scene scene = new Scene()) {
      Map<String, String> hellos = new LinkedHashMap<>();
      hellos.put("{\"type\":\"hello\",\"protocolVersion\":1,\"clientGroupId\":\"g\",\"schemaVersion\":1}", "clientId");
      hellos.put("{\"type\":\"hello\",\"protocolVersion\":1,\"clientGroupId\":\"g\",\"clientId\":\"c\",\"schemaVersion\":1,"
          + "\"color\":\"red\"}", "color");
      hellos.put("{\"type\":\"hello\",\"protocolVersion\":\"1\",\"clientGroupId\":\"g\",\"clientId\":\"c\",\"schemaVersion\":1}",
          "protocolVersion");
      for (var e : hellos.entrySet()) {
        try (SyncTestClient bad = scene.bad(false)) {
          bad.sendRaw(e.getKey());
          expectClosed(bad, ErrorCode.BAD_MESSAGE, 4400, e.getValue());
        }
        scene.assertStillServes("hello " + e.getKey());
      }
      Map<String, String> pushes = new LinkedHashMap<>();
      pushes.put("{\"type\":\"push\"}", "mutations");
      pushes.put(push("{\"id\":1,\"args\":{},\"timestamp\":1}"), "mutations[0]");
      pushes.put(push("{\"id\":1,\"name\":\"setTodo\",\"timestamp\":1}"), "mutations[0]");
      pushes.put(push("{\"id\":1,\"name\":\"setTodo\",\"args\":{},\"timestamp\":1,\"extra\":true}"), "mutations[0].extra");
      pushes.put(push("{\"id\":1,\"name\":\"setTodo\",\"args\":{},\"timestamp\":null}"), "mutations[0].timestamp");
      for (var e : pushes.entrySet()) {
        try (SyncTestClient bad = scene.bad(true)) {
          bad.sendRaw(e.getKey());
          expectClosed(bad, ErrorCode.BAD_MESSAGE, 4400, e.getValue());
        }
        scene.assertStillServes("push " + e.getKey());
      }
    }
  }


  // ---------------------------------------------------------------------------------------------
  // Protocol order

  @Test
  void anythingBeforeHelloIsProtocolViolation4405() {
    try (Scene scene = new Scene()) {
      Map<String, String> inputs = Map.of(
          push(mutation("1", "before-hello")), "got push",
          "{\"type\":\"ping\"}", "got ping");
      for (var e : inputs.entrySet()) {
        try (SyncTestClient bad = scene.bad(false)) {
          bad.sendRaw(e.getKey());
          expectClosed(bad, ErrorCode.PROTOCOL_VIOLATION, 4405, "the first message must be a hello", e.getValue());
        }
        scene.assertStillServes(e.getKey() + " before hello");
      }
    }
  }

  @Test
  void aSecondHelloIsProtocolViolation4405() {
    try (Scene scene = new Scene()) {
      try (SyncTestClient bad = scene.bad(true)) {
        bad.sendRaw(hello(1, "g-bad", scene.lastBadClientId, 1, "dev:mallory"));
        expectClosed(bad, ErrorCode.PROTOCOL_VIOLATION, 4405, "a second hello");
      }
      scene.assertStillServes("second hello");
      // the session of the refused connection is gone: its client id connects again as a new connection
      try (SyncTestClient again = SyncTestClient.connect(server.port(), scene.instance, "g-bad", scene.lastBadClientId, null,
          "dev:mallory")) {
        scene.write(again, "after-second-hello");
      }
      scene.assertStillServes("reconnect after second hello");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Size and depth

  @Test
  void aMessageOverTheLimitIsClosed1009AndOneAtTheLimitIsAccepted() throws Exception {
    try (Scene scene = new Scene()) {
      // exactly at the limit: accepted (the limit is inclusive; the JDK client sends it in four 16 KiB fragments)
      try (SyncTestClient ok = scene.bad(true)) {
        ok.sendRaw(pad(push(mutation("1", "at-limit")), MAX_MESSAGE_BYTES));
        ok.awaitConfirmed(1);
        scene.acknowledged.add("at-limit");
      }
      scene.assertStillServes("message at the limit");
      // one byte over, in one frame that is sent whole
      for (boolean afterHello : new boolean[] {false, true}) {
        try (RawSocket raw = RawSocket.upgrade(server.port(), "/v1/apps/todo/instances/" + scene.instance + "/sync")) {
          if (afterHello) {
            raw.sayHello(hello(1, "g-raw", "raw-over-" + SCENES.incrementAndGet(), 1, "dev:mallory"));
          }
          byte[] over = pad(push(mutation("1", "over-limit")), MAX_MESSAGE_BYTES + 1).getBytes(StandardCharsets.UTF_8);
          raw.sendFrame(true, RawSocket.TEXT, over.length, over);
          RawSocket.Frame close = raw.readUntil(RawSocket.CLOSE);
          assertEquals(1009, close.closeCode(), "close frame " + close);
          assertTrue(close.closeReason().contains("larger than " + MAX_MESSAGE_BYTES + " bytes"), close.closeReason());
        }
        scene.assertStillServes("one frame over the limit" + (afterHello ? " after hello" : " before hello"));
      }
      // one byte over through the JDK client, whose fragments pass until the last one: the close code only
      // (that the message is not applied is in aMessageOverTheLimitIsNotAppliedAsItsPrefix)
      try (SyncTestClient bad = scene.bad(true)) {
        String over = push("{\"id\":1,\"name\":\"setTodo\",\"args\":{\"id\":\"big\",\"text\":\""
            + "x".repeat(MAX_MESSAGE_BYTES) + "\",\"updatedAt\":1},\"timestamp\":1}");
        sendIgnoringClose(bad, over);
        assertEquals(1009, bad.awaitClose(), "close code of a message over the limit");
        assertTrue(bad.closeReason().contains("larger than " + MAX_MESSAGE_BYTES + " bytes"), bad.closeReason());
        assertNoErrorMessage(bad);
      }
      scene.assertStillServes("JDK client message over the limit");
    }
  }

  @Test
  void aFrameHeaderDeclaringAHugePayloadIsClosed1009BeforeThePayloadArrives() throws Exception {
    try (Scene scene = new Scene()) {
      for (boolean afterHello : new boolean[] {false, true}) {
        try (RawSocket raw = RawSocket.upgrade(server.port(), "/v1/apps/todo/instances/" + scene.instance + "/sync")) {
          assertEquals(101, raw.status, raw.head);
          if (afterHello) {
            raw.sayHello(hello(1, "g-raw", "raw-" + SCENES.incrementAndGet(), 1, "dev:mallory"));
          }
          // a text frame declaring 1 GiB, and 16 bytes of it: the server must not wait for the rest
          raw.sendFrame(true, RawSocket.TEXT, 1L << 30, "{\"type\":\"push\",\"".getBytes(StandardCharsets.UTF_8));
          RawSocket.Frame close = raw.readUntil(RawSocket.CLOSE);
          assertEquals(1009, close.closeCode(), "close frame " + close);
          assertTrue(close.closeReason().contains("larger than " + MAX_MESSAGE_BYTES + " bytes"), close.closeReason());
        }
        scene.assertStillServes("1 GiB frame header" + (afterHello ? " after hello" : " before hello"));
      }
    }
  }

  @Test
  void aFragmentedMessageOverTheLimitIsClosed1009() throws Exception {
    try (Scene scene = new Scene()) {
      // control: a push in three fragments under the limit is one message, and is applied
      try (RawSocket raw = RawSocket.upgrade(server.port(), "/v1/apps/todo/instances/" + scene.instance + "/sync")) {
        raw.sayHello(hello(1, "g-raw", "raw-ok", 1, "dev:mallory"));
        sendInFragments(raw, push(mutation("1", "fragmented-ok")).getBytes(StandardCharsets.UTF_8), 3);
        RawSocket.Frame poke;
        do {
          poke = raw.readUntil(RawSocket.TEXT);
        } while (!poke.text().contains("\"raw-ok\":1"));
        scene.acknowledged.add("fragmented-ok");
      }
      scene.assertStillServes("fragmented message under the limit");
      // four fragments of 20 KiB: the fourth header takes the message over 64 KiB, before and after the hello
      for (boolean afterHello : new boolean[] {false, true}) {
        try (RawSocket raw = RawSocket.upgrade(server.port(), "/v1/apps/todo/instances/" + scene.instance + "/sync")) {
          if (afterHello) {
            raw.sayHello(hello(1, "g-raw", "raw-big-" + SCENES.incrementAndGet(), 1, "dev:mallory"));
          }
          byte[] first = pad("{\"type\":\"push\",\"mutations\":[", 20 * 1024).getBytes(StandardCharsets.UTF_8);
          sendOverTheLimitInFragments(raw, first);
          RawSocket.Frame close = raw.readUntil(RawSocket.CLOSE);
          assertEquals(1009, close.closeCode(), "close frame " + close);
          assertTrue(close.closeReason().contains("larger than " + MAX_MESSAGE_BYTES + " bytes"), close.closeReason());
        }
        scene.assertStillServes("fragmented message over the limit" + (afterHello ? " after hello" : " before hello"));
      }
    }
  }

  @Test
  void aMessageOverTheLimitIsNotAppliedAsItsPrefix() throws Exception {
    try (Scene scene = new Scene()) {
      // raw fragments: the first one holds a whole push, the declared fourth takes the message over the limit
      try (RawSocket raw = RawSocket.upgrade(server.port(), "/v1/apps/todo/instances/" + scene.instance + "/sync")) {
        raw.sayHello(hello(1, "g-raw", "raw-prefix", 1, "dev:mallory"));
        sendOverTheLimitInFragments(raw, pad(push(mutation("1", "prefix-raw")), 20 * 1024).getBytes(StandardCharsets.UTF_8));
        RawSocket.Frame close = raw.readUntil(RawSocket.CLOSE);
        assertEquals(1009, close.closeCode(), "close frame " + close);
      }
      scene.assertStillServes("fragmented message over the limit whose first fragment is a whole push");
      // the JDK client: a push padded to one byte over the limit
      try (SyncTestClient bad = scene.bad(true)) {
        sendIgnoringClose(bad, pad(push(mutation("1", "prefix-jdk")), MAX_MESSAGE_BYTES + 1));
        assertEquals(1009, bad.awaitClose());
      }
      scene.assertStillServes("padded push one byte over the limit");
    }
  }

  /** Sends {@code first} as the first of four 20 KiB fragments, the last one declared but not sent. */
  private static void sendOverTheLimitInFragments(RawSocket raw, byte[] first) throws IOException {
    assertEquals(20 * 1024, first.length);
    byte[] fragment = " ".repeat(20 * 1024).getBytes(StandardCharsets.UTF_8);
    raw.sendFrame(false, RawSocket.TEXT, first.length, first);
    raw.sendFrame(false, RawSocket.CONTINUATION, fragment.length, fragment);
    raw.sendFrame(false, RawSocket.CONTINUATION, fragment.length, fragment);
    // declared, not sent: the guard must refuse on the header
    raw.sendFrame(true, RawSocket.CONTINUATION, fragment.length, new byte[0]);
  }

  private static void sendInFragments(RawSocket raw, byte[] message, int fragments) throws IOException {
    int size = message.length / fragments;
    for (int i = 0; i < fragments; i++) {
      int from = i * size;
      int to = i == fragments - 1 ? message.length : from + size;
      raw.sendFrame(i == fragments - 1, i == 0 ? RawSocket.TEXT : RawSocket.CONTINUATION, to - from,
          Arrays.copyOfRange(message, from, to));
    }
  }

  @Test
  void nestingDeeperThanMaxJsonDepthIsBadMessage4400() {
    try (Scene scene = new Scene()) {
      // a push is 4 levels down to args ({, mutations [, {, args {); add arrays to go past the limit
      String deep = "[".repeat(MAX_JSON_DEPTH) + "]".repeat(MAX_JSON_DEPTH);
      String input = push("{\"id\":1,\"name\":\"setTodo\",\"args\":{\"id\":\"deep\",\"text\":" + deep
          + ",\"updatedAt\":1},\"timestamp\":1}");
      for (boolean afterHello : new boolean[] {false, true}) {
        try (SyncTestClient bad = scene.bad(afterHello)) {
          bad.sendRaw(input);
          expectClosed(bad, ErrorCode.BAD_MESSAGE, 4400, "nest", String.valueOf(MAX_JSON_DEPTH));
        }
        scene.assertStillServes("deep JSON" + (afterHello ? " after hello" : " before hello"));
      }
      // deep nesting in a hello, too
      try (SyncTestClient bad = scene.bad(false)) {
        bad.sendRaw("{\"type\":\"hello\",\"x\":" + deep + "}");
        expectClosed(bad, ErrorCode.BAD_MESSAGE, 4400, "nest", String.valueOf(MAX_JSON_DEPTH));
      }
      scene.assertStillServes("deep hello");
    }
  }

  @Test
  void aBinaryMessageIsBadMessage1003() {
    try (Scene scene = new Scene()) {
      for (boolean afterHello : new boolean[] {false, true}) {
        try (SyncTestClient bad = scene.bad(afterHello)) {
          bad.sendBinary(push(mutation("1", "binary")).getBytes(StandardCharsets.UTF_8));
          expectClosed(bad, ErrorCode.BAD_MESSAGE, 1003, "binary messages are not supported");
        }
        scene.assertStillServes("binary message" + (afterHello ? " after hello" : " before hello"));
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Mutation ids

  @Test
  void mutationIdsTheServerRefusesGetAnErrorAndTheConnectionStaysOpen() {
    try (Scene scene = new Scene()) {
      List<Case> cases = List.of(
          new Case(push(mutation("-1", "neg")), ErrorCode.BAD_REQUEST, "mutation ids start at 1, got -1"),
          new Case(push(mutation("0", "zero")), ErrorCode.BAD_REQUEST, "mutation ids start at 1, got 0"),
          new Case(push(mutation("3", "three"), mutation("2", "two")), ErrorCode.BAD_REQUEST,
              "mutation ids in a push must increase; 2 follows 3"),
          new Case(push(mutation("1", "one"), mutation("1", "one-again")), ErrorCode.BAD_REQUEST,
              "mutation ids in a push must increase; 1 follows 1"),
          new Case(push(mutation("5", "five")), ErrorCode.MUTATION_ID_GAP, "expected mutation id 1, got 5",
              "nothing in this push was applied"),
          new Case(push(mutation("1", "gap-in-push-1"), mutation("3", "gap-in-push-3")), ErrorCode.MUTATION_ID_GAP,
              "expected mutation id 2, got 3", "nothing in this push was applied"));
      for (Case c : cases) {
        try (SyncTestClient client = scene.bad(true)) {
          client.sendRaw(c.push());
          JsonNode error = expectError(client, c.code(), c.says());
          assertFalse(client.isClosed(), c.push() + " must leave the connection open; got " + error);
          // the same connection pushes the right id and gets it confirmed
          scene.write(client, "right-id-" + scene.lastBadClientId);
          // a gap later in the life of a client
          long next = client.nextMutationId;
          client.sendRaw(push(mutation(String.valueOf(next + 1), "later-gap")));
          expectError(client, ErrorCode.MUTATION_ID_GAP, "expected mutation id " + next + ", got " + (next + 1));
          scene.write(client, "right-id-again-" + scene.lastBadClientId);
        }
        scene.assertStillServes("push " + c.push());
      }
    }
  }

  @Test
  void mutationIdsThatAreNotIntegersAreBadMessage4400() {
    try (Scene scene = new Scene()) {
      for (String id : List.of("1.5", "\"1\"", "null", "1e0", "9223372036854775808", "true")) {
        try (SyncTestClient bad = scene.bad(true)) {
          bad.sendRaw(push(mutation(id, "not-an-integer")));
          expectClosed(bad, ErrorCode.BAD_MESSAGE, 4400, "invalid field mutations[0].id");
        }
        scene.assertStillServes("mutation id " + id);
      }
    }
  }

  /** A push the instance refuses, what it answers, and what the message says. */
  private record Case(String push, ErrorCode code, String... says) {}

  // ---------------------------------------------------------------------------------------------
  // Hello: versions and auth

  @Test
  void anUnsupportedProtocolVersionIsVersionNotSupported4406() {
    try (Scene scene = new Scene()) {
      for (int version : new int[] {2, 0, -1}) {
        try (SyncTestClient bad = scene.bad(false)) {
          bad.sendRaw(hello(version, "g-bad", "v" + version, 1, "dev:mallory"));
          expectClosed(bad, ErrorCode.VERSION_NOT_SUPPORTED, 4406, "protocol version " + version + " is not supported",
              "speaks protocol version 1");
        }
        scene.assertStillServes("protocolVersion " + version);
      }
    }
  }

  @Test
  void aWrongSchemaVersionIsSchemaVersionMismatch4412() {
    try (Scene scene = new Scene()) {
      for (int version : new int[] {2, 0}) {
        try (SyncTestClient bad = scene.bad(false)) {
          bad.sendRaw(hello(1, "g-bad", "s" + version, version, "dev:mallory"));
          expectClosed(bad, ErrorCode.SCHEMA_VERSION_MISMATCH, 4412, "schema version " + version,
              "this server runs schema version 1");
        }
        scene.assertStillServes("schemaVersion " + version);
      }
    }
  }

  @Test
  void aTokenTheProviderRefusesIsUnauthorized4401() {
    try (Scene scene = new Scene()) {
      for (String token : List.of("nope", "dev:", "dev:bad user", "Bearer dev:alice")) {
        try (SyncTestClient bad = scene.bad(false)) {
          bad.sendRaw(hello(1, "g-bad", "u-" + SCENES.incrementAndGet(), 1, token));
          expectClosed(bad, ErrorCode.UNAUTHORIZED, 4401, "dev tokens look like dev:<userId>");
        }
        scene.assertStillServes("token " + token);
      }
    }
  }

  @Test
  void anAnonymousHelloIsAcceptedAndSeesOnlyPublicData() {
    String instance = "anon-" + SCENES.incrementAndGet();
    try (SyncTestClient anonymousWitness = lab(instance, "g-anon", "anon-witness", null);
        SyncTestClient alice = lab(instance, "g-alice", "alice-1", "dev:alice")) {
      assertFalse(anonymousWitness.connected.has("userId"), "an anonymous connected has no userId: " + anonymousWitness.connected);
      assertEquals("alice", alice.connected.get("userId").asText());
      alice.awaitConfirmed(alice.push("put", Map.of("key", "k1", "value", "public one")));
      alice.awaitConfirmed(alice.push("putPrivate", Map.of("key", "n1", "value", "alice's secret")));
      alice.awaitConfirmed(alice.push("put", Map.of("key", "k2", "value", "public two")));
      assertEquals(Set.of("public/kv/k1", "public/kv/k2", "private/notes/n1"), alice.replica.keySet());
      // the anonymous witness gets pokes of public writes, and never the private one (committed before k2)
      anonymousWitness.awaitUntil(() -> anonymousWitness.replica.containsKey("public/kv/k2"));
      assertEquals(Set.of("public/kv/k1", "public/kv/k2"), anonymousWitness.replica.keySet());
      // an anonymous client may write public data
      anonymousWitness.awaitConfirmed(anonymousWitness.push("put", Map.of("key", "k3", "value", "anonymous")));
      alice.awaitUntil(() -> alice.replica.containsKey("public/kv/k3"));
      // a fresh anonymous client's initial state: public only; an empty token is anonymous too
      for (String token : new String[] {null, ""}) {
        try (SyncTestClient fresh = lab(instance, "g-anon-fresh", "anon-fresh-" + SCENES.incrementAndGet(), token)) {
          assertFalse(fresh.connected.has("userId"), fresh.connected.toString());
          fresh.awaitUntil(() -> fresh.pokes > 0);
          assertEquals(Set.of("public/kv/k1", "public/kv/k2", "public/kv/k3"), fresh.replica.keySet());
        }
      }
      // and alice, fresh, still sees her own private row
      try (SyncTestClient fresh = lab(instance, "g-alice-2", "alice-2", "dev:alice")) {
        fresh.awaitUntil(() -> fresh.pokes > 0);
        assertEquals(Set.of("public/kv/k1", "public/kv/k2", "public/kv/k3", "private/notes/n1"), fresh.replica.keySet());
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Client id ownership, client groups, supersede

  @Test
  void aClientIdAUserPushedWithIsRefusedToOtherUsers4403() {
    try (Scene scene = new Scene()) {
      String x = "owned-x";
      SyncTestClient alice = SyncTestClient.connect(server.port(), scene.instance, "g-alice", x, null, "dev:alice");
      try {
        scene.write(alice, "alice-wrote");
        // while alice is connected, and after she left (the ownership is persisted)
        for (boolean aliceConnected : new boolean[] {true, false}) {
          if (!aliceConnected) {
            alice.close();
          }
          for (String other : new String[] {"dev:bob", null}) {
            try (SyncTestClient bad = SyncTestClient.open(server.port(), "todo", scene.instance, x)) {
              bad.hello("g-alice", null, 1, other);
              expectClosed(bad, ErrorCode.CLIENT_OWNED_BY_OTHER_USER, 4403, "client " + x + " belongs to another user");
            }
            scene.assertStillServes((other == null ? "anonymous" : other) + " with alice's client id"
                + (aliceConnected ? " while she is connected" : " after she left"));
          }
          if (aliceConnected) {
            // the refusal did not disturb alice's connection
            scene.write(alice, "alice-still-connected");
          }
        }
      } finally {
        alice.close();
      }
      // alice herself gets her client back, with its last mutation id
      try (SyncTestClient back = SyncTestClient.connect(server.port(), scene.instance, "g-alice", x, null, "dev:alice")) {
        assertEquals(2, back.connected.get("lastMutationId").asLong(), back.connected.toString());
        back.nextMutationId = 3;
        scene.write(back, "alice-back");
      }
      scene.assertStillServes("alice back");
    }
  }

  @Test
  void aClientIdConnectedButNeverPushedIsRefusedToOtherUsers4403() {
    try (Scene scene = new Scene()) {
      String y = "connected-y";
      try (SyncTestClient alice = SyncTestClient.connect(server.port(), scene.instance, "g-alice", y, null, "dev:alice")) {
        for (String other : new String[] {"dev:bob", null}) {
          try (SyncTestClient bad = SyncTestClient.open(server.port(), "todo", scene.instance, y)) {
            bad.hello("g-bob", null, 1, other);
            expectClosed(bad, ErrorCode.CLIENT_OWNED_BY_OTHER_USER, 4403, "client " + y + " belongs to another user");
          }
          scene.assertStillServes((other == null ? "anonymous" : other) + " with alice's connected client id");
        }
        // alice was not superseded by the refused connection: she still pushes and hears back
        assertFalse(alice.isClosed(), "alice's connection must stay open");
        scene.write(alice, "alice-after-refusals");
      }
      scene.assertStillServes("after alice left");
    }
  }

  @Test
  void aClientIdOfAnotherClientGroupIsBadRequest4400() {
    try (Scene scene = new Scene()) {
      try (SyncTestClient alice = SyncTestClient.connect(server.port(), scene.instance, "g-one", "grouped", null, "dev:alice")) {
        scene.write(alice, "grouped-wrote");
      }
      try (SyncTestClient bad = SyncTestClient.open(server.port(), "todo", scene.instance, "grouped")) {
        bad.hello("g-two", null, 1, "dev:alice");
        expectClosed(bad, ErrorCode.BAD_REQUEST, 4400, "client grouped belongs to client group g-one, not g-two");
      }
      scene.assertStillServes("other client group");
    }
  }

  @Test
  void helloWithInvalidIdsOrCookieIsBadRequest4400() {
    try (Scene scene = new Scene()) {
      Map<String, String> inputs = new LinkedHashMap<>();
      inputs.put(hello(1, "", "c-empty-group", 1, null), "clientGroupId and clientId must be 1 to 256 characters");
      inputs.put(hello(1, "g", "x".repeat(257), 1, null), "clientGroupId and clientId must be 1 to 256 characters");
      ObjectNode badCookie = (ObjectNode) SyncTestClient.read(hello(1, "g", "c-cookie", 1, null));
      badCookie.put("cookie", "not a cookie");
      inputs.put(badCookie.toString(), "cookie");
      for (var e : inputs.entrySet()) {
        try (SyncTestClient bad = scene.bad(false)) {
          bad.sendRaw(e.getKey());
          expectClosed(bad, ErrorCode.BAD_REQUEST, 4400, e.getValue());
        }
        scene.assertStillServes("hello " + e.getKey());
      }
    }
  }

  @Test
  void aSecondConnectionOfTheSameClientSupersedesTheFirst4409() {
    try (Scene scene = new Scene()) {
      String z = "twice-z";
      try (SyncTestClient first = SyncTestClient.connect(server.port(), scene.instance, "g-alice", z, null, "dev:alice")) {
        scene.write(first, "first-wrote");
        try (SyncTestClient second = SyncTestClient.connect(server.port(), scene.instance, "g-alice", z, first.cookie, "dev:alice")) {
          expectClosed(first, ErrorCode.SUPERSEDED, 4409, "a newer connection of client " + z + " replaced this one");
          assertEquals(1, second.connected.get("lastMutationId").asLong(), second.connected.toString());
          second.nextMutationId = 2;
          scene.write(second, "second-wrote");
          scene.assertStillServes("supersede");
          // the second connection keeps receiving pokes
          scene.write(scene.witness, "witness-after-supersede");
          second.awaitUntil(() -> second.replica.containsKey(key("witness-after-supersede")));
        }
      }
      scene.assertStillServes("after the second connection left");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP level

  @Test
  void anUnknownAppIs404OnTheUpgrade() throws Exception {
    try (Scene scene = new Scene()) {
      CompletionException e = assertThrows(CompletionException.class,
          () -> SyncTestClient.open(server.port(), "nosuchapp", "i1", "c1"));
      WebSocketHandshakeException handshake = assertInstanceOf(WebSocketHandshakeException.class, e.getCause());
      assertEquals(404, handshake.getResponse().statusCode());
      try (RawSocket raw = RawSocket.upgrade(server.port(), "/v1/apps/nosuchapp/instances/i1/sync")) {
        assertEquals(404, raw.status, raw.head);
        JsonNode body = SyncTestClient.read(raw.readBody());
        assertEquals("NOT_FOUND", body.at("/error/code").asText(), body.toString());
        assertTrue(body.at("/error/message").asText().contains("no app 'nosuchapp'"), body.toString());
      }
      scene.assertStillServes("unknown app");
    }
  }

  @Test
  void aBadInstanceIdIs400OnTheUpgrade() throws Exception {
    try (Scene scene = new Scene()) {
      for (String instance : List.of("bad!id", "x".repeat(129))) {
        CompletionException e = assertThrows(CompletionException.class,
            () -> SyncTestClient.open(server.port(), "todo", instance, "c1"));
        WebSocketHandshakeException handshake = assertInstanceOf(WebSocketHandshakeException.class, e.getCause());
        assertEquals(400, handshake.getResponse().statusCode());
        try (RawSocket raw = RawSocket.upgrade(server.port(), "/v1/apps/todo/instances/" + instance + "/sync")) {
          assertEquals(400, raw.status, raw.head);
          JsonNode body = SyncTestClient.read(raw.readBody());
          assertEquals("BAD_REQUEST", body.at("/error/code").asText(), body.toString());
          assertTrue(body.at("/error/message").asText().contains("instance id must match"), body.toString());
        }
      }
      scene.assertStillServes("bad instance id");
    }
  }

  @Test
  void aPlainGetWithoutUpgradeIs400Json() throws Exception {
    try (Scene scene = new Scene()) {
      HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
              URI.create("http://127.0.0.1:" + server.port() + "/v1/apps/todo/instances/" + scene.instance + "/sync")).GET().build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(400, response.statusCode());
      assertTrue(response.headers().firstValue("content-type").orElse("").startsWith("application/json"), response.headers().toString());
      JsonNode body = SyncTestClient.read(response.body());
      assertEquals("BAD_REQUEST", body.at("/error/code").asText(), body.toString());
      assertTrue(body.at("/error/message").asText().contains("WebSocket only"), body.toString());
      scene.assertStillServes("plain GET");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  /**
   * One instance with a well-behaved witness, connected before any bad input, and the writes
   * confirmed so far.
   */
  private static final class Scene implements AutoCloseable {
    final String instance = "bad-" + SCENES.incrementAndGet();
    final SyncTestClient witness;
    final Set<String> acknowledged = new TreeSet<>();
    private int clients;
    String lastBadClientId;

    Scene() {
      witness = SyncTestClient.connect(server.port(), instance, "g-witness", "witness", null, "dev:witness");
      write(witness, "before");
    }

    /** A client for bad input: opened, and connected if {@code afterHello}. */
    SyncTestClient bad(boolean afterHello) {
      lastBadClientId = "bad-" + (++clients);
      SyncTestClient c = SyncTestClient.open(server.port(), "todo", instance, lastBadClientId);
      if (afterHello) {
        c.hello("g-bad-" + clients, null, 1, "dev:mallory");
        c.awaitConnected();
      }
      return c;
    }

    /** {@code client} writes todo {@code id} and sees it confirmed: acknowledged from then on. */
    void write(SyncTestClient client, String id) {
      client.awaitConfirmed(client.push("setTodo", Map.of("id", id, "text", "text of " + id, "updatedAt", 1)));
      acknowledged.add(id);
    }

    /**
     * The instance still serves: a fresh client's initial state holds exactly the acknowledged
     * writes, and a write of it reaches the witness, connected since before the bad input.
     */
    void assertStillServes(String after) {
      String fresh = "fresh-" + (++clients);
      try (SyncTestClient c = SyncTestClient.connect(server.port(), instance, "g-" + fresh, fresh, null, "dev:fresh")) {
        c.awaitUntil(() -> c.pokes > 0);
        Set<String> expected = new TreeSet<>();
        acknowledged.forEach(id -> expected.add(key(id)));
        assertEquals(expected, c.replica.keySet(), "initial state of a fresh client after " + after);
        String id = "after-" + fresh;
        write(c, id);
        witness.awaitUntil(() -> witness.replica.containsKey(key(id)));
        assertFalse(witness.isClosed(), "the witness was closed after " + after);
        assertTrue(witness.errors.isEmpty() && witness.failures.isEmpty(), witness.errors + " " + witness.failures);
      } catch (AssertionError e) {
        throw new AssertionError("instance " + instance + " after " + after + ": " + e.getMessage(), e);
      }
    }

    @Override
    public void close() {
      witness.close();
    }
  }

  private static String key(String todoId) {
    return "public/todos/" + todoId;
  }

  /** Opens and connects a client of the lab app. */
  private static SyncTestClient lab(String instance, String group, String clientId, String token) {
    SyncTestClient c = SyncTestClient.open(server.port(), "badlab", instance, clientId);
    c.hello(group, null, 1, token);
    c.awaitConnected();
    return c;
  }

  private static String hello(int protocolVersion, String group, String clientId, int schemaVersion, String auth) {
    ObjectNode hello = Json.mapper().createObjectNode().put("type", "hello").put("protocolVersion", protocolVersion)
        .put("clientGroupId", group).put("clientId", clientId).put("schemaVersion", schemaVersion);
    if (auth != null) {
      hello.put("auth", auth);
    }
    return hello.toString();
  }

  /** A setTodo mutation with its id written as the raw JSON {@code idJson}. */
  private static String mutation(String idJson, String todoId) {
    return "{\"id\":" + idJson + ",\"name\":\"setTodo\",\"args\":{\"id\":\"" + todoId + "\",\"text\":\"t\",\"updatedAt\":1},"
        + "\"timestamp\":1}";
  }

  private static String push(String... mutations) {
    return "{\"type\":\"push\",\"mutations\":[" + String.join(",", mutations) + "]}";
  }

  /** {@code json} padded with trailing spaces to exactly {@code bytes} bytes of UTF-8. */
  private static String pad(String json, int bytes) {
    int length = json.getBytes(StandardCharsets.UTF_8).length;
    assertTrue(length <= bytes);
    return json + " ".repeat(bytes - length);
  }

  /** Sends {@code text}; the server may close before the JDK client has written all of it. */
  private static void sendIgnoringClose(SyncTestClient client, String text) {
    try {
      client.sendRaw(text);
    } catch (CompletionException e) {
      // closed by the server while sending: the close code tells what happened
    }
  }

  /** Reads messages (skipping connected and pokes) up to an error with {@code code} naming {@code says}. */
  private static JsonNode expectError(SyncTestClient client, ErrorCode code, String... says) {
    while (true) {
      JsonNode m = client.nextMessage();
      String type = m.path("type").asText();
      if (type.equals("connected") || type.equals("poke")) {
        continue;
      }
      assertEquals("error", type, "expected an error " + code + ", got " + m);
      assertEquals(code.name(), m.at("/error/code").asText(), m.toString());
      String message = m.at("/error/message").asText();
      for (String s : says) {
        assertTrue(message.contains(s), "the message should say '" + s + "': " + message);
      }
      return m;
    }
  }

  /** Expects an error with {@code code}, then the close frame with {@code closeCode} and the code's name as reason. */
  private static JsonNode expectClosed(SyncTestClient client, ErrorCode code, int closeCode, String... says) {
    JsonNode error = expectError(client, code, says);
    assertEquals(closeCode, client.awaitClose(), "close code after " + error);
    assertEquals(code.name(), client.closeReason(), "close reason after " + error);
    for (JsonNode m : client.takeAll()) {
      fail("nothing may follow the error before the close; got " + m);
    }
    return error;
  }

  private static void assertNoErrorMessage(SyncTestClient client) {
    for (JsonNode m : client.takeAll()) {
      String type = m.path("type").asText();
      assertTrue(type.equals("connected") || type.equals("poke"), "a 1009 close comes without a message; got " + m);
    }
  }

  /**
   * A WebSocket client written by hand over a plain TCP socket, to send what the JDK client
   * will not: a frame header alone, declared lengths that differ from what follows.
   */
  private static final class RawSocket implements AutoCloseable {
    static final int CONTINUATION = 0;
    static final int TEXT = 1;
    static final int CLOSE = 8;

    record Frame(boolean fin, int opcode, byte[] payload) {
      String text() {
        return new String(payload, StandardCharsets.UTF_8);
      }

      int closeCode() {
        assertEquals(CLOSE, opcode, "not a close frame");
        assertTrue(payload.length >= 2, "a close frame without a code");
        return ((payload[0] & 0xff) << 8) | (payload[1] & 0xff);
      }

      String closeReason() {
        return new String(payload, 2, payload.length - 2, StandardCharsets.UTF_8);
      }

      @Override
      public String toString() {
        return "Frame[fin=" + fin + ", opcode=" + opcode + ", " + (opcode == CLOSE && payload.length >= 2
            ? "code=" + closeCode() + ", reason=" + closeReason() : text()) + "]";
      }
    }

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    int status;
    String head;
    private final Map<String, String> headers = new LinkedHashMap<>();

    private RawSocket(Socket socket) throws IOException {
      this.socket = socket;
      this.in = socket.getInputStream();
      this.out = socket.getOutputStream();
    }

    /** Connects, sends an upgrade request for {@code path}, and reads the response head. */
    static RawSocket upgrade(int port, String path) throws Exception {
      Socket socket = new Socket("127.0.0.1", port);
      socket.setSoTimeout((int) SyncTestClient.WAIT.toMillis());
      RawSocket raw = new RawSocket(socket);
      byte[] nonce = new byte[16];
      ThreadLocalRandom.current().nextBytes(nonce);
      String key = Base64.getEncoder().encodeToString(nonce);
      raw.out.write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          + "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      raw.out.flush();
      raw.readHead();
      if (raw.status == 101) {
        String accept = Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-1")
            .digest((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").getBytes(StandardCharsets.US_ASCII)));
        assertEquals(accept, raw.headers.get("sec-websocket-accept"), raw.head);
      }
      return raw;
    }

    private void readHead() throws IOException {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      int matched = 0;
      byte[] end = "\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
      while (matched < end.length) {
        int b = in.read();
        if (b < 0) {
          throw new EOFException("connection closed in the response head: " + bytes);
        }
        bytes.write(b);
        matched = b == end[matched] ? matched + 1 : (b == end[0] ? 1 : 0);
      }
      head = bytes.toString(StandardCharsets.US_ASCII);
      String[] lines = head.split("\r\n");
      status = Integer.parseInt(lines[0].split(" ")[1]);
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        if (colon > 0) {
          headers.put(lines[i].substring(0, colon).trim().toLowerCase(), lines[i].substring(colon + 1).trim());
        }
      }
    }

    String readBody() throws IOException {
      int length = Integer.parseInt(headers.getOrDefault("content-length", "-1"));
      assertTrue(length >= 0, "a response without content-length: " + head);
      return new String(in.readNBytes(length), StandardCharsets.UTF_8);
    }

    /** Sends a masked frame whose header declares {@code declaredLength}, followed by {@code payload} (any length). */
    void sendFrame(boolean fin, int opcode, long declaredLength, byte[] payload) throws IOException {
      ByteArrayOutputStream frame = new ByteArrayOutputStream();
      frame.write((fin ? 0x80 : 0) | opcode);
      if (declaredLength < 126) {
        frame.write(0x80 | (int) declaredLength);
      } else if (declaredLength <= 0xffff) {
        frame.write(0x80 | 126);
        frame.write((int) (declaredLength >>> 8) & 0xff);
        frame.write((int) declaredLength & 0xff);
      } else {
        frame.write(0x80 | 127);
        for (int shift = 56; shift >= 0; shift -= 8) {
          frame.write((int) (declaredLength >>> shift) & 0xff);
        }
      }
      byte[] mask = new byte[4];
      ThreadLocalRandom.current().nextBytes(mask);
      frame.write(mask);
      for (int i = 0; i < payload.length; i++) {
        frame.write(payload[i] ^ mask[i % 4]);
      }
      out.write(frame.toByteArray());
      out.flush();
    }

    Frame readFrame() throws IOException {
      int b0 = readByte();
      int b1 = readByte();
      assertEquals(0, b1 & 0x80, "server frames are not masked");
      long length = b1 & 0x7f;
      if (length == 126) {
        length = ((long) readByte() << 8) | readByte();
      } else if (length == 127) {
        length = 0;
        for (int i = 0; i < 8; i++) {
          length = (length << 8) | readByte();
        }
      }
      assertTrue(length < 16 * 1024 * 1024, "frame length " + length);
      byte[] payload = in.readNBytes((int) length);
      if (payload.length < length) {
        throw new EOFException("connection closed in a frame");
      }
      return new Frame((b0 & 0x80) != 0, b0 & 0x0f, payload);
    }

    /** Reads frames up to the first of {@code opcode}; fails on a close frame when waiting for another. */
    Frame readUntil(int opcode) throws IOException {
      while (true) {
        Frame f = readFrame();
        if (f.opcode() == opcode) {
          return f;
        }
        if (f.opcode() == CLOSE) {
          fail("expected a frame of opcode " + opcode + ", got " + f);
        }
      }
    }

    /** Sends a hello as one text frame and reads up to the first poke. */
    void sayHello(String hello) throws IOException {
      byte[] bytes = hello.getBytes(StandardCharsets.UTF_8);
      sendFrame(true, TEXT, bytes.length, bytes);
      Frame connected = readUntil(TEXT);
      assertTrue(connected.text().contains("\"type\":\"connected\""), connected.toString());
      Frame poke = readUntil(TEXT);
      assertTrue(poke.text().contains("\"type\":\"poke\""), poke.toString());
    }

    private int readByte() throws IOException {
      int b = in.read();
      if (b < 0) {
        throw new EOFException("connection closed");
      }
      return b;
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }
}
