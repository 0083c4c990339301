package io.syncedstore.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import io.syncedstore.api.Json;
import io.syncedstore.api.protocol.ClientMessage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tokens and Origins checked on a real server before the WebSocket upgrade: a refused token is
 * answered {@code 401 UNAUTHORIZED} (no 101), whether it came in the Authorization header or the
 * auth subprotocol; a foreign Origin {@code 403 ORIGIN_NOT_ALLOWED}. The server pins RS256 with a
 * PEM public key, so an HS256 token "signed" with that public key (the algorithm swap) is tried too.
 */
@ExtendWith(LogCapturingExtension.class)
class HandshakeAuthTest {
  private static final String ISSUER = "https://issuer.example/";
  private static final String AUDIENCE = "synced-store";
  private static final String PATH = "/v1/apps/todo/instances/i1/sync";
  private static final Duration WAIT = Duration.ofSeconds(10);

  @TempDir
  static Path dir;

  private static SyncServer server;
  private static RSAKey rsa;
  private static RSAKey otherRsa;
  private static ECKey ec;
  private static final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  private static final List<String> tokens = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    rsa = new RSAKeyGenerator(2048).keyID("k1").generate();
    otherRsa = new RSAKeyGenerator(2048).keyID("k1").generate();
    ec = new ECKeyGenerator(Curve.P_256).keyID("k1").generate();
    logs.start();
    root().addAppender(logs);
    server = TestServers.start(dir, SyncServer.discoverApps(), Map.of(
        "synced-store.auth.provider", "jwt",
        "synced-store.auth.jwt.algorithm", "RS256",
        "synced-store.auth.jwt.public-key", pem(rsa),
        "synced-store.auth.jwt.issuer", ISSUER,
        "synced-store.auth.jwt.audience", AUDIENCE,
        "synced-store.http.allowed-origins", List.of("https://good.example")));
  }

  @AfterAll
  static void stop() {
    try {
      if (server != null) {
        server.close();
      }
    } finally {
      root().detachAppender(logs);
    }
    // nothing the server logged while these tests ran holds a token, or a part of one
    for (ILoggingEvent event : logs.list) {
      String text = event.getFormattedMessage() + (event.getThrowableProxy() == null ? "" : event.getThrowableProxy().getMessage());
      for (String token : tokens) {
        for (String part : token.split("\\.")) {
          assertFalse(part.length() >= 12 && text.contains(part), "a token was logged: " + text);
        }
      }
    }
  }

  private static ch.qos.logback.classic.Logger root() {
    return (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
  }

  private static String pem(RSAKey key) throws Exception {
    return "-----BEGIN PUBLIC KEY-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(key.toPublicKey().getEncoded())
        + "\n-----END PUBLIC KEY-----\n";
  }

  private static JWTClaimsSet claims(UnaryOperator<JWTClaimsSet.Builder> change) {
    Instant now = Instant.now();
    return change.apply(new JWTClaimsSet.Builder().issuer(ISSUER).audience(AUDIENCE).subject("alice")
        .issueTime(Date.from(now)).expirationTime(Date.from(now.plusSeconds(300)))).build();
  }

  private static String sign(JWSAlgorithm alg, JWSSigner signer, JWTClaimsSet claims) throws Exception {
    SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(alg).keyID("k1").build(), claims);
    jwt.sign(signer);
    String token = jwt.serialize();
    tokens.add(token);
    return token;
  }

  private static String good(UnaryOperator<JWTClaimsSet.Builder> change) throws Exception {
    return sign(JWSAlgorithm.RS256, new RSASSASigner(rsa), claims(change));
  }

  private static String good() throws Exception {
    return good(c -> c);
  }

  /** @return the bad tokens by name: each must be refused before the upgrade */
  private static Map<String, String> badTokens() throws Exception {
    Instant now = Instant.now();
    String valid = good();
    String[] parts = valid.split("\\.");
    // flip the top bit of the signature's last character: a change in its padding bits alone would decode the same
    String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char last = valid.charAt(valid.length() - 1);
    String altered = valid.substring(0, valid.length() - 1) + alphabet.charAt(alphabet.indexOf(last) ^ 0b100000);

    Map<String, String> bad = new LinkedHashMap<>();
    bad.put("alg none (unsigned)", new PlainJWT(claims(c -> c)).serialize());
    bad.put("alg none header, signature stripped", Base64URL.encode("{\"alg\":\"none\"}") + "." + parts[1] + ".");
    bad.put("HS256 signed with the RSA public key", sign(JWSAlgorithm.HS256, new MACSigner(rsa.toPublicKey().getEncoded()), claims(c -> c)));
    bad.put("ES256 token", sign(JWSAlgorithm.ES256, new ECDSASigner(ec), claims(c -> c)));
    bad.put("signature altered", altered);
    bad.put("signed by another key", sign(JWSAlgorithm.RS256, new RSASSASigner(otherRsa), claims(c -> c)));
    bad.put("expired", good(c -> c.issueTime(Date.from(now.minusSeconds(3600))).expirationTime(Date.from(now.minusSeconds(120)))));
    bad.put("not yet valid", good(c -> c.notBeforeTime(Date.from(now.plusSeconds(120)))));
    bad.put("wrong issuer", good(c -> c.issuer("https://evil.example/")));
    bad.put("wrong audience", good(c -> c.audience("another-service")));
    bad.put("missing exp", good(c -> c.expirationTime(null)));
    bad.put("sub anon-x", good(c -> c.subject("anon-x")));
    bad.put("garbage", "not-a-jwt");
    tokens.addAll(bad.values());
    return bad;
  }

  /** The status, headers (lower-case names) and body of the answer to an upgrade request. */
  record Answer(int status, Map<String, String> headers, String body) {
    JsonNode error() {
      return SyncTestClient.read(body).get("error");
    }
  }

  /** Sends a WebSocket upgrade request over a raw socket with {@code headers} and reads the answer. */
  private static Answer upgrade(Map<String, String> headers) throws IOException {
    try (Socket socket = new Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout((int) WAIT.toMillis());
      StringBuilder request = new StringBuilder("GET " + PATH + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
          + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n");
      headers.forEach((name, value) -> request.append(name).append(": ").append(value).append("\r\n"));
      request.append("\r\n");
      OutputStream out = socket.getOutputStream();
      out.write(request.toString().getBytes(StandardCharsets.UTF_8));
      out.flush();
      InputStream in = socket.getInputStream();
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
        int b = in.read();
        if (b < 0) {
          throw new IOException("the server closed before the end of the response head: " + head);
        }
        head.write(b);
      }
      String[] lines = head.toString(StandardCharsets.ISO_8859_1).split("\r\n");
      int status = Integer.parseInt(lines[0].split(" ")[1]);
      Map<String, String> answerHeaders = new LinkedHashMap<>();
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        answerHeaders.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
      }
      String body = "";
      if (status != 101 && answerHeaders.containsKey("content-length")) {
        body = new String(in.readNBytes(Integer.parseInt(answerHeaders.get("content-length"))), StandardCharsets.UTF_8);
      }
      return new Answer(status, answerHeaders, body);
    }
  }

  private static Map<String, String> bearer(String token) {
    return Map.of("Authorization", "Bearer " + token);
  }

  private static String authSubprotocol(String token) {
    return SyncSocketRoutes.AUTH_SUBPROTOCOL_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(token.getBytes(StandardCharsets.UTF_8));
  }

  private static void assertRefused(Answer answer, String what, String token) {
    assertEquals(401, answer.status(), what + ": " + answer);
    assertEquals("UNAUTHORIZED", answer.error().get("code").asText(), what + ": " + answer.body());
    assertFalse(answer.body().contains(token), what + ": the token is in the answer");
  }

  @Test
  void badTokensInTheAuthorizationHeaderAreRefusedBeforeTheUpgrade() throws Exception {
    for (Map.Entry<String, String> bad : badTokens().entrySet()) {
      assertRefused(upgrade(bearer(bad.getValue())), bad.getKey(), bad.getValue());
    }
  }

  @Test
  void badTokensInTheAuthSubprotocolAreRefusedBeforeTheUpgrade() throws Exception {
    for (Map.Entry<String, String> bad : badTokens().entrySet()) {
      Answer answer = upgrade(Map.of("Sec-WebSocket-Protocol", "synced-store, " + authSubprotocol(bad.getValue())));
      assertRefused(answer, bad.getKey() + " (subprotocol)", bad.getValue());
    }
  }

  @Test
  void refusalsSayWhy() throws Exception {
    Map<String, String> bad = badTokens();
    assertEquals("algorithm none not accepted", upgrade(bearer(bad.get("alg none (unsigned)"))).error().get("message").asText());
    assertEquals("algorithm HS256 not accepted", upgrade(bearer(bad.get("HS256 signed with the RSA public key"))).error().get("message").asText());
    assertEquals("bad signature", upgrade(bearer(bad.get("signature altered"))).error().get("message").asText());
    assertEquals("expired", upgrade(bearer(bad.get("expired"))).error().get("message").asText());
    assertEquals("wrong audience", upgrade(bearer(bad.get("wrong audience"))).error().get("message").asText());
  }

  @Test
  void aGoodTokenIsUpgraded() throws Exception {
    String token = good();
    Answer header = upgrade(bearer(token));
    assertEquals(101, header.status(), header.toString());
    assertNull(header.headers().get("sec-websocket-protocol"), "no subprotocol was offered");
    Answer subprotocol = upgrade(Map.of("Sec-WebSocket-Protocol", "synced-store, " + authSubprotocol(token)));
    assertEquals(101, subprotocol.status(), subprotocol.toString());
    assertEquals("synced-store", subprotocol.headers().get("sec-websocket-protocol"), "the token's subprotocol is never echoed");
  }

  @Test
  void aGoodTokenInTheHeaderConnectsAsItsUser() throws Exception {
    try (Client socket = open(HttpClient.newHttpClient().newWebSocketBuilder().header("Authorization", "Bearer " + good(c -> c.subject("bob"))))) {
      socket.hello(null);
      JsonNode connected = socket.next();
      assertEquals("connected", connected.get("type").asText(), connected.toString());
      assertEquals("bob", connected.get("userId").asText());
    }
  }

  @Test
  void aGoodTokenInTheSubprotocolConnectsAsItsUser() throws Exception {
    String token = good(c -> c.subject("carol"));
    try (Client socket = open(HttpClient.newHttpClient().newWebSocketBuilder().subprotocols("synced-store", authSubprotocol(token)))) {
      assertEquals("synced-store", socket.ws.getSubprotocol());
      socket.hello(null);
      JsonNode connected = socket.next();
      assertEquals("connected", connected.get("type").asText(), connected.toString());
      assertEquals("carol", connected.get("userId").asText());
    }
  }

  @Test
  void withoutAnUpgradeTokenTheHellosTokenIsChecked() throws Exception {
    try (Client socket = open(HttpClient.newHttpClient().newWebSocketBuilder())) {
      socket.hello(good(c -> c.subject("dave")));
      assertEquals("dave", socket.next().get("userId").asText());
    }
    for (String token : new String[] {null, badTokens().get("expired")}) {
      try (Client socket = open(HttpClient.newHttpClient().newWebSocketBuilder())) {
        socket.hello(token);
        JsonNode error = socket.next();
        assertEquals("error", error.get("type").asText(), error.toString());
        assertEquals("UNAUTHORIZED", error.get("error").get("code").asText(), error.toString());
        assertEquals(token == null ? "a token is required" : "expired", error.get("error").get("message").asText());
      }
    }
  }

  @Test
  void aForeignOriginIsRefusedAndAnAllowedOneUpgraded() throws Exception {
    String token = good();
    Map<String, String> evil = new LinkedHashMap<>(bearer(token));
    evil.put("Origin", "https://evil.example");
    Answer refused = upgrade(evil);
    assertEquals(403, refused.status(), refused.toString());
    assertEquals("ORIGIN_NOT_ALLOWED", refused.error().get("code").asText());

    Map<String, String> goodOrigin = new LinkedHashMap<>(bearer(token));
    goodOrigin.put("Origin", "https://good.example");
    assertEquals(101, upgrade(goodOrigin).status());

    String bad = badTokens().get("wrong issuer");
    Map<String, String> goodOriginBadToken = new LinkedHashMap<>(bearer(bad));
    goodOriginBadToken.put("Origin", "https://good.example");
    assertRefused(upgrade(goodOriginBadToken), "allowed origin, bad token", bad);
  }

  /** A JDK WebSocket that queues the messages it receives. */
  private static final class Client implements AutoCloseable, WebSocket.Listener {
    private final BlockingQueue<String> inbox = new LinkedBlockingQueue<>();
    private final StringBuilder partial = new StringBuilder();
    private final CompletableFuture<WebSocket> opened = new CompletableFuture<>();
    WebSocket ws;

    @Override
    public void onOpen(WebSocket webSocket) {
      opened.complete(webSocket);
      webSocket.request(1);
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        inbox.add(partial.toString());
        partial.setLength(0);
      }
      webSocket.request(1);
      return null;
    }

    void hello(String token) throws Exception {
      ws.sendText(Json.mapper().writeValueAsString(new ClientMessage.Hello(ClientMessage.PROTOCOL_VERSION, "g1", "c-" + System.nanoTime(),
          Optional.empty(), 1, Optional.ofNullable(token))), true).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    JsonNode next() throws InterruptedException {
      String text = inbox.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      assertNotNull(text, "no message within " + WAIT);
      return SyncTestClient.read(text);
    }

    @Override
    public void close() {
      ws.abort();
    }
  }

  private static Client open(WebSocket.Builder builder) throws Exception {
    Client socket = new Client();
    socket.ws = builder.connectTimeout(WAIT).buildAsync(URI.create("ws://127.0.0.1:" + server.port() + PATH), socket)
        .get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    assertTrue(socket.opened.isDone());
    return socket;
  }
}
