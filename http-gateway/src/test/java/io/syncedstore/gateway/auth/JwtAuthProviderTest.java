package io.syncedstore.gateway.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.OctetSequenceKey;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.OctetSequenceKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.auth.Principal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/** The jwt provider: forged and bad tokens refused with a reason and never the token; good ones mapped to principals. */
class JwtAuthProviderTest {
  static final String ISSUER = "https://issuer.example/";
  static final String AUDIENCE = "synced-store";
  static final String SECRET = "0123456789abcdef0123456789abcdef-test-secret";
  /** The servers' clock; tokens are made relative to it. */
  static final Instant NOW = Instant.parse("2030-01-01T12:00:00Z");

  @TempDir
  static Path dir;

  static RSAKey rsa;
  static RSAKey rsa2;
  static RSAKey otherRsa;
  static ECKey ec;
  static ECKey otherEc;
  static Path jwks;

  static JwtAuthProvider hs256;
  static JwtAuthProvider rs256Pem;
  static JwtAuthProvider rs256Jwks;
  static JwtAuthProvider es256Pem;
  static JwtAuthProvider es256Jwks;

  /** Everything the auth package logs while the tests run, to check no token is ever logged. */
  static final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  static final List<String> tokensSeen = new ArrayList<>();
  static Level previousLevel;

  @BeforeAll
  static void keys() throws Exception {
    rsa = new RSAKeyGenerator(2048).keyID("rsa-1").generate();
    rsa2 = new RSAKeyGenerator(2048).keyID("rsa-2").generate();
    otherRsa = new RSAKeyGenerator(2048).keyID("rsa-1").generate(); // same kid, other key
    ec = new ECKeyGenerator(Curve.P_256).keyID("ec-1").generate();
    otherEc = new ECKeyGenerator(Curve.P_256).keyID("ec-1").generate();
    OctetSequenceKey oct = new OctetSequenceKeyGenerator(256).keyID("oct-1").generate();
    // private parts, an HMAC key and both key types in the file: the provider keeps the public keys that fit
    jwks = dir.resolve("jwks.json");
    Files.writeString(jwks, new JWKSet(List.of(rsa, rsa2, ec, oct)).toString(false));

    hs256 = provider(Map.of("algorithm", "HS256", "secret", SECRET));
    rs256Pem = provider(Map.of("algorithm", "RS256", "public-key", pem(rsa.toPublicKey())));
    rs256Jwks = provider(Map.of("algorithm", "RS256", "jwks-file", jwks.toString()));
    es256Pem = provider(Map.of("algorithm", "ES256", "public-key", pem(ec.toPublicKey())));
    es256Jwks = provider(Map.of("algorithm", "ES256", "jwks-file", jwks.toString()));

    ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger("io.syncedstore.gateway.auth");
    previousLevel = logger.getLevel();
    logger.setLevel(Level.DEBUG);
    logs.start();
    logger.addAppender(logs);
  }

  @AfterAll
  static void noTokenWasLogged() {
    ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger("io.syncedstore.gateway.auth");
    logger.detachAppender(logs);
    logger.setLevel(previousLevel);
    assertFalse(logs.list.isEmpty(), "refusals are logged at debug");
    for (ILoggingEvent event : logs.list) {
      for (String token : tokensSeen) {
        assertNoTokenIn(event.getFormattedMessage(), token);
      }
    }
  }

  static String pem(PublicKey key) {
    return "-----BEGIN PUBLIC KEY-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(key.getEncoded())
        + "\n-----END PUBLIC KEY-----\n";
  }

  /** @return the jwt section with {@code settings} over the issuer, audience and reference.conf's defaults */
  static Config section(Map<String, Object> settings) {
    Map<String, Object> all = new HashMap<>(Map.of("issuer", ISSUER, "audience", AUDIENCE));
    all.putAll(settings);
    return ConfigFactory.parseMap(all).withFallback(ConfigFactory.defaultReference().getConfig("synced-store.auth.jwt"));
  }

  static JwtAuthProvider provider(Map<String, Object> settings) {
    return new JwtAuthProvider(section(settings), Clock.fixed(NOW, ZoneOffset.UTC));
  }

  /** @return claims that every provider here accepts: the issuer, the audience, sub alice, exp in 5 minutes */
  static JWTClaimsSet.Builder claims() {
    return new JWTClaimsSet.Builder().issuer(ISSUER).audience(AUDIENCE).subject("alice")
        .issueTime(Date.from(NOW)).expirationTime(Date.from(NOW.plusSeconds(300)));
  }

  static String sign(JWSAlgorithm alg, String kid, JWSSigner signer, JWTClaimsSet claims) {
    try {
      SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(alg).keyID(kid).build(), claims);
      jwt.sign(signer);
      return jwt.serialize();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static String hs(JWTClaimsSet claims) {
    try {
      return sign(JWSAlgorithm.HS256, null, new MACSigner(SECRET.getBytes(StandardCharsets.UTF_8)), claims);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static String rs(RSAKey key, JWTClaimsSet claims) {
    try {
      return sign(JWSAlgorithm.RS256, key.getKeyID(), new RSASSASigner(key), claims);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static String es(ECKey key, JWTClaimsSet claims) {
    try {
      return sign(JWSAlgorithm.ES256, key.getKeyID(), new ECDSASigner(key), claims);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** @return {@code token} with its header replaced by {@code headerJson} and its signature by {@code signature} */
  static String reheader(String token, String headerJson, String signature) {
    String[] parts = token.split("\\.");
    return Base64URL.encode(headerJson.getBytes(StandardCharsets.UTF_8)) + "." + parts[1] + "." + signature;
  }

  /**
   * @return {@code token} with the last character of its signature changed in its most significant
   *     bit: a change in the padding bits alone would decode to the same signature
   */
  static String alterLastChar(String token) {
    String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char last = token.charAt(token.length() - 1);
    char altered = alphabet.charAt(alphabet.indexOf(last) ^ 0b100000);
    String forged = token.substring(0, token.length() - 1) + altered;
    String[] a = token.split("\\.");
    String[] b = forged.split("\\.");
    assertFalse(java.util.Arrays.equals(new Base64URL(a[2]).decode(), new Base64URL(b[2]).decode()), "the signature bytes changed");
    return forged;
  }

  static JWTClaimsSet with(UnaryOperator<JWTClaimsSet.Builder> change) {
    return change.apply(claims()).build();
  }

  static void assertNoTokenIn(String text, String token) {
    if (text == null || token == null || token.isEmpty()) {
      return;
    }
    assertFalse(text.contains(token), "the token appears in: " + text);
    for (String part : token.split("\\.")) {
      if (part.length() >= 12) {
        assertFalse(text.contains(part), "a part of the token appears in: " + text);
      }
    }
  }

  /** A token a provider must refuse, with a fragment of the reason it must give. */
  record Bad(String name, AuthProvider provider, String token, String reason) {}

  static List<Bad> badTokens() throws Exception {
    String goodRs = rs(rsa, claims().build());
    String goodHs = hs(claims().build());
    String noneHeader = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
    byte[] rsaPublicDer = rsa.toPublicKey().getEncoded();
    byte[] rsaPublicPem = pem(rsa.toPublicKey()).getBytes(StandardCharsets.US_ASCII);
    List<Bad> bad = new ArrayList<>();
    // alg none
    bad.add(new Bad("unsigned PlainJWT to RS256", rs256Pem, new PlainJWT(claims().build()).serialize(), "algorithm none not accepted"));
    bad.add(new Bad("unsigned PlainJWT to HS256", hs256, new PlainJWT(claims().build()).serialize(), "algorithm none not accepted"));
    bad.add(new Bad("unsigned PlainJWT to JWKS", rs256Jwks, new PlainJWT(claims().build()).serialize(), "algorithm none not accepted"));
    bad.add(new Bad("header alg none, signature stripped", rs256Pem, reheader(goodRs, noneHeader, ""), "algorithm none not accepted"));
    bad.add(new Bad("header alg none, signature kept", rs256Pem, reheader(goodRs, noneHeader, goodRs.split("\\.")[2]), "malformed token"));
    bad.add(new Bad("header alg None, signature stripped", hs256, reheader(goodHs, "{\"alg\":\"None\"}", ""), "malformed token"));
    bad.add(new Bad("header alg NONE, signature kept", hs256, reheader(goodHs, "{\"alg\":\"NONE\"}", goodHs.split("\\.")[2]),
        "algorithm NONE not accepted"));
    // algorithm swaps
    bad.add(new Bad("HS256 signed with the RSA public key (DER) to RS256", rs256Pem,
        sign(JWSAlgorithm.HS256, null, new MACSigner(rsaPublicDer), claims().build()), "algorithm HS256 not accepted"));
    bad.add(new Bad("HS256 signed with the RSA public key (PEM) to RS256", rs256Pem,
        sign(JWSAlgorithm.HS256, null, new MACSigner(rsaPublicPem), claims().build()), "algorithm HS256 not accepted"));
    bad.add(new Bad("HS256 signed with the RSA public key to RS256 JWKS", rs256Jwks,
        sign(JWSAlgorithm.HS256, "rsa-1", new MACSigner(rsaPublicDer), claims().build()), "algorithm HS256 not accepted"));
    bad.add(new Bad("ES256 to RS256", rs256Pem, es(ec, claims().build()), "algorithm ES256 not accepted"));
    bad.add(new Bad("ES256 to RS256 JWKS holding the EC key", rs256Jwks, es(ec, claims().build()), "algorithm ES256 not accepted"));
    bad.add(new Bad("RS256 to ES256", es256Pem, goodRs, "algorithm RS256 not accepted"));
    bad.add(new Bad("RS256 to HS256", hs256, goodRs, "algorithm RS256 not accepted"));
    bad.add(new Bad("HS512 with the right secret to HS256", hs256,
        sign(JWSAlgorithm.HS512, null, new MACSigner(SECRET + SECRET), claims().build()), "algorithm HS512 not accepted"));
    // bad signatures
    bad.add(new Bad("RS256, last signature char altered", rs256Pem, alterLastChar(goodRs), "bad signature"));
    bad.add(new Bad("RS256 JWKS, last signature char altered", rs256Jwks, alterLastChar(goodRs), "bad signature"));
    bad.add(new Bad("HS256, last signature char altered", hs256, alterLastChar(goodHs), "bad signature"));
    bad.add(new Bad("ES256, last signature char altered", es256Pem, alterLastChar(es(ec, claims().build())), "bad signature"));
    bad.add(new Bad("RS256 signed by another key", rs256Pem, rs(otherRsa, claims().build()), "bad signature"));
    bad.add(new Bad("RS256 JWKS, other key under a known kid", rs256Jwks, rs(otherRsa, claims().build()), "bad signature"));
    SignedJWT embedded = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).jwk(otherRsa.toPublicJWK()).build(), claims().build());
    embedded.sign(new RSASSASigner(otherRsa));
    bad.add(new Bad("RS256 signed by a key embedded in its jwk header", rs256Pem, embedded.serialize(), "bad signature"));
    bad.add(new Bad("RS256 JWKS, signed by a key embedded in its jwk header", rs256Jwks, embedded.serialize(), "bad signature"));
    bad.add(new Bad("RS256 JWKS, unknown kid", rs256Jwks,
        sign(JWSAlgorithm.RS256, "rsa-unknown", new RSASSASigner(rsa), claims().build()), "bad signature"));
    bad.add(new Bad("HS256 signed with another secret", hs256,
        sign(JWSAlgorithm.HS256, null, new MACSigner("another secret of at least thirty-two bytes"), claims().build()), "bad signature"));
    bad.add(new Bad("ES256 signed by another key", es256Pem, es(otherEc, claims().build()), "bad signature"));
    bad.add(new Bad("ES256 JWKS, other key under a known kid", es256Jwks, es(otherEc, claims().build()), "bad signature"));
    bad.add(new Bad("payload swapped under a valid signature", rs256Pem,
        goodRs.split("\\.")[0] + "." + Base64URL.encode(with(c -> c.subject("mallory")).toString()) + "." + goodRs.split("\\.")[2],
        "bad signature"));
    // claims
    bad.add(new Bad("expired beyond the skew", hs256, hs(with(c -> c.expirationTime(Date.from(NOW.minusSeconds(31))))), "expired"));
    bad.add(new Bad("expired at the skew", hs256, hs(with(c -> c.expirationTime(Date.from(NOW.minusSeconds(30))))), "expired"));
    bad.add(new Bad("expired long ago (RS256)", rs256Pem, rs(rsa, with(c -> c.expirationTime(Date.from(NOW.minusSeconds(86400))))), "expired"));
    bad.add(new Bad("not yet valid beyond the skew", hs256, hs(with(c -> c.notBeforeTime(Date.from(NOW.plusSeconds(31))))), "not yet valid"));
    bad.add(new Bad("not yet valid (ES256)", es256Pem, es(ec, with(c -> c.notBeforeTime(Date.from(NOW.plusSeconds(3600))))), "not yet valid"));
    bad.add(new Bad("wrong issuer", hs256, hs(with(c -> c.issuer("https://evil.example/"))), "wrong issuer"));
    bad.add(new Bad("issuer differing in a trailing slash", rs256Pem, rs(rsa, with(c -> c.issuer("https://issuer.example"))), "wrong issuer"));
    bad.add(new Bad("no issuer", hs256, hs(with(c -> c.issuer(null))), "wrong issuer"));
    bad.add(new Bad("wrong audience", hs256, hs(with(c -> c.audience("other-service"))), "wrong audience"));
    bad.add(new Bad("wrong audiences", rs256Jwks, rs(rsa, with(c -> c.audience(List.of("a", "b")))), "wrong audience"));
    bad.add(new Bad("no audience", hs256, hs(with(c -> c.audience((String) null))), "wrong audience"));
    bad.add(new Bad("missing exp", hs256, hs(with(c -> c.expirationTime(null))), "missing exp"));
    bad.add(new Bad("missing exp (RS256)", rs256Pem, rs(rsa, with(c -> c.expirationTime(null))), "missing exp"));
    bad.add(new Bad("typ not JWT", hs256, sign(JWSAlgorithm.HS256, null, new MACSigner(SECRET), claims().build())
        .replaceFirst("^[^.]+", Base64URL.encode("{\"alg\":\"HS256\",\"typ\":\"secevent+jwt\"}").toString()), "malformed token"));
    // the user and the mapped claims
    bad.add(new Bad("sub anon-x", hs256, hs(with(c -> c.subject("anon-x"))), "reserved for anonymous users"));
    bad.add(new Bad("no sub", hs256, hs(with(c -> c.subject(null))), "no user id"));
    bad.add(new Bad("sub with a space", hs256, hs(with(c -> c.subject("al ice"))), "user id"));
    bad.add(new Bad("sub too long", hs256, hs(with(c -> c.subject("a".repeat(129)))), "user id"));
    bad.add(new Bad("scopes an array", hs256, hs(with(c -> c.claim("scopes", List.of("todos")))), "malformed token"));
    bad.add(new Bad("scopes with a nested field value", hs256,
        hs(with(c -> c.claim("scopes", Map.of("todos", Map.of("owner", Map.of("x", 1)))))), "malformed token"));
    bad.add(new Bad("permissions a string", hs256, hs(with(c -> c.claim("permissions", "admin"))), "malformed token"));
    bad.add(new Bad("permissions with a number", hs256, hs(with(c -> c.claim("permissions", List.of("a", 1)))), "malformed token"));
    // not tokens
    bad.add(new Bad("garbage text", rs256Pem, "this is not a token", "malformed token"));
    bad.add(new Bad("three garbage parts", hs256, "abc.def.ghi", "malformed token"));
    bad.add(new Bad("header not JSON", hs256, Base64URL.encode("not json") + "." + goodHs.split("\\.")[1] + "." + goodHs.split("\\.")[2],
        "malformed token"));
    bad.add(new Bad("payload not JSON", hs256, goodHs.split("\\.")[0] + "." + Base64URL.encode("[1,2]") + "." + goodHs.split("\\.")[2],
        "malformed token"));
    bad.add(new Bad("encrypted (JWE)", hs256, Base64URL.encode("{\"alg\":\"dir\",\"enc\":\"A128GCM\"}") + ".." + "AAAAAAAAAAAAAAAA"
        + "." + "AAAA" + "." + "AAAAAAAAAAAAAAAAAAAAAA", "malformed token"));
    bad.add(new Bad("too long", hs256, hs(with(c -> c.claim("pad", "x".repeat(JwtAuthProvider.MAX_TOKEN_CHARS)))), "malformed token"));
    bad.add(new Bad("empty", hs256, "", "a token is required"));
    bad.add(new Bad("null", rs256Pem, null, "a token is required"));
    return bad;
  }

  @TestFactory
  Stream<DynamicTest> forgedAndBadTokensAreRefused() throws Exception {
    return badTokens().stream().map(bad -> DynamicTest.dynamicTest(bad.name(), () -> {
      tokensSeen.add(bad.token());
      SyncException e = assertThrows(SyncException.class, () -> bad.provider().authenticate(bad.token()),
          () -> bad.name() + " was accepted");
      assertEquals(ErrorCode.UNAUTHORIZED, e.code(), e.getMessage());
      assertTrue(e.getMessage().contains(bad.reason()), "'" + e.getMessage() + "' does not say '" + bad.reason() + "'");
      assertNoTokenIn(e.getMessage(), bad.token());
    }));
  }

  private static Authentication accept(AuthProvider provider, String token) {
    tokensSeen.add(token);
    return provider.authenticate(token);
  }

  @Test
  void hs256IsAccepted() {
    Authentication a = accept(hs256, hs(claims().build()));
    assertEquals(Principal.user("alice"), a.principal());
    assertEquals(NOW.plusSeconds(300 + 30), a.expiresAt(), "exp plus the 30 s skew: when the provider starts refusing it");
    assertFalse(a.anonymousIdentity());
  }

  @Test
  void rs256WithAPemPublicKeyIsAccepted() {
    assertEquals("alice", accept(rs256Pem, rs(rsa, claims().build())).principal().userId());
    // a single configured key does not depend on the kid
    assertEquals("alice", accept(rs256Pem, sign(JWSAlgorithm.RS256, null, signer(rsa), claims().build())).principal().userId());
  }

  @Test
  void rs256WithAJwksFileIsAcceptedByKid() {
    assertEquals("alice", accept(rs256Jwks, rs(rsa, claims().build())).principal().userId());
    assertEquals("bob", accept(rs256Jwks, rs(rsa2, with(c -> c.subject("bob")))).principal().userId());
    // without a kid every fitting key is tried
    assertEquals("bob", accept(rs256Jwks, sign(JWSAlgorithm.RS256, null, signer(rsa2), with(c -> c.subject("bob")))).principal().userId());
  }

  @Test
  void es256IsAccepted() {
    assertEquals("alice", accept(es256Pem, es(ec, claims().build())).principal().userId());
    assertEquals("alice", accept(es256Jwks, es(ec, claims().build())).principal().userId());
  }

  @Test
  void expiryAndNotBeforeWithinTheSkewAreAccepted() {
    Authentication a = accept(hs256, hs(with(c -> c.expirationTime(Date.from(NOW.minusSeconds(29))))));
    assertEquals(NOW.plusSeconds(1), a.expiresAt(), "exp plus the skew: still valid for a second");
    accept(hs256, hs(with(c -> c.notBeforeTime(Date.from(NOW.plusSeconds(29))))));
    accept(hs256, hs(with(c -> c.notBeforeTime(Date.from(NOW.minusSeconds(3600))))));
  }

  @Test
  void theSkewIsConfigurable() {
    JwtAuthProvider strict = provider(Map.of("algorithm", "HS256", "secret", SECRET, "clock-skew", "0s"));
    String token = hs(with(c -> c.expirationTime(Date.from(NOW.minusSeconds(1)))));
    tokensSeen.add(token);
    assertEquals("expired", assertThrows(SyncException.class, () -> strict.authenticate(token)).getMessage());
    accept(strict, hs(with(c -> c.expirationTime(Date.from(NOW.plusSeconds(1))))));
  }

  @Test
  void anAudienceListContainingOursIsAccepted() {
    accept(hs256, hs(with(c -> c.audience(List.of("other", AUDIENCE)))));
  }

  @Test
  void typJwtAndAccessTokenTypesAreAccepted() throws Exception {
    for (String typ : List.of("JWT", "at+jwt")) {
      SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).type(new JOSEObjectType(typ)).build(), claims().build());
      jwt.sign(new MACSigner(SECRET));
      accept(hs256, jwt.serialize());
    }
  }

  @Test
  void scopesAndPermissionsClaimsAreMapped() throws Exception {
    Authentication a = accept(rs256Jwks, rs(rsa, with(c -> c
        .claim("scopes", Map.of("responses", Map.of("formId", "f1", "n", 2), "forms", Map.of()))
        .claim("permissions", List.of("forms.read", "forms.write")))));
    Principal p = a.principal();
    assertEquals("alice", p.userId());
    assertFalse(p.anonymous());
    assertNotNull(p.scopes());
    assertEquals("{\"forms\":{},\"responses\":{\"formId\":\"f1\",\"n\":2}}", p.scopes().toJson().toString());
    assertEquals(Set.of("forms.read", "forms.write"), p.permissions());
    assertNull(accept(rs256Jwks, rs(rsa, claims().build())).principal().scopes(), "no scopes claim: unrestricted");
  }

  @Test
  void claimNamesAndRequireExpAreConfigurable() {
    JwtAuthProvider custom = provider(Map.of("algorithm", "HS256", "secret", SECRET, "require-exp", false,
        "user-claim", "uid", "scopes-claim", "sync", "permissions-claim", "perms"));
    Authentication a = accept(custom, hs(with(c -> c.subject(null).expirationTime(null).claim("uid", "auth0|123")
        .claim("sync", Map.of("todos", Map.of())).claim("perms", List.of("p")))));
    assertEquals("auth0|123", a.principal().userId());
    assertNull(a.expiresAt(), "no exp: never expires");
    assertEquals(Set.of("todos"), a.principal().scopes().tables().keySet());
    assertEquals(Set.of("p"), a.principal().permissions());
  }

  @Test
  void theProviderIsBuiltFromTheAuthSection() {
    Config auth = ConfigFactory.parseMap(Map.of("provider", "jwt", "jwt.algorithm", "HS256", "jwt.secret", SECRET,
        "jwt.issuer", ISSUER, "jwt.audience", AUDIENCE)).withFallback(ConfigFactory.defaultReference().getConfig("synced-store.auth"));
    AuthProvider provider = AuthProviders.fromConfig(auth);
    assertTrue(provider instanceof JwtAuthProvider);
    // the real clock: a token made now
    String token = hs(new JWTClaimsSet.Builder().issuer(ISSUER).audience(AUDIENCE).subject("carol")
        .expirationTime(Date.from(Instant.now().plusSeconds(60))).build());
    assertEquals("carol", accept(provider, token).principal().userId());
  }

  @Test
  void settingsThatDoNotFitAreStartupErrorsNamingTheSetting() throws Exception {
    Path ecOnly = dir.resolve("ec-only.json");
    Files.writeString(ecOnly, new JWKSet(ec.toPublicJWK()).toString());
    Path notJwks = dir.resolve("not-jwks.json");
    Files.writeString(notJwks, "{\"keys\": 3}");
    RSAKey small = new RSAKeyGenerator(1024, true).generate();
    String rsaPem = pem(rsa.toPublicKey());
    Map<String, Map<String, Object>> cases = new java.util.LinkedHashMap<>();
    cases.put("synced-store.auth.jwt.algorithm", Map.of());
    cases.put("synced-store.auth.jwt.algorithm must be HS256, RS256 or ES256", Map.of("algorithm", "none", "secret", SECRET));
    cases.put("synced-store.auth.jwt.algorithm must", Map.of("algorithm", "HS512", "secret", SECRET));
    cases.put("synced-store.auth.jwt.secret is required", Map.of("algorithm", "HS256"));
    cases.put("synced-store.auth.jwt.secret must be at least 32 bytes", Map.of("algorithm", "HS256", "secret", "short"));
    cases.put("synced-store.auth.jwt.public-key is for RS256", Map.of("algorithm", "HS256", "secret", SECRET, "public-key", rsaPem));
    cases.put("synced-store.auth.jwt.secret is for HS256", Map.of("algorithm", "RS256", "secret", SECRET));
    cases.put("synced-store.auth.jwt.public-key or synced-store.auth.jwt.jwks-file is required", Map.of("algorithm", "RS256"));
    cases.put("not both", Map.of("algorithm", "RS256", "public-key", rsaPem, "jwks-file", jwks.toString()));
    cases.put("synced-store.auth.jwt.public-key must be an EC public key", Map.of("algorithm", "ES256", "public-key", rsaPem));
    cases.put("synced-store.auth.jwt.public-key must be an RSA public key", Map.of("algorithm", "RS256", "public-key", pem(ec.toPublicKey())));
    cases.put("synced-store.auth.jwt.public-key must be an RSA key of at least 2048 bits",
        Map.of("algorithm", "RS256", "public-key", pem(small.toPublicKey())));
    cases.put("synced-store.auth.jwt.public-key must be PEM", Map.of("algorithm", "RS256", "public-key", "MIIB..."));
    cases.put("synced-store.auth.jwt.public-key is neither", Map.of("algorithm", "RS256",
        "public-key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"));
    cases.put("synced-store.auth.jwt.jwks-file: " + ecOnly + " has no public signing key for RS256",
        Map.of("algorithm", "RS256", "jwks-file", ecOnly.toString()));
    cases.put("synced-store.auth.jwt.jwks-file: cannot read", Map.of("algorithm", "RS256", "jwks-file", dir.resolve("missing.json").toString()));
    cases.put("synced-store.auth.jwt.jwks-file: " + notJwks + " is not a JWK set", Map.of("algorithm", "RS256", "jwks-file", notJwks.toString()));
    cases.put("synced-store.auth.jwt.clock-skew", Map.of("algorithm", "HS256", "secret", SECRET, "clock-skew", "-1s"));
    cases.forEach((message, settings) -> {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> provider(settings), message);
      assertTrue(e.getMessage().contains(message), "'" + e.getMessage() + "' does not say '" + message + "'");
      if (settings.containsKey("secret")) {
        assertFalse(e.getMessage().contains(settings.get("secret").toString()), "the secret is in the message");
      }
    });
    for (String key : List.of("issuer", "audience")) {
      Map<String, Object> settings = new HashMap<>(Map.of("algorithm", "HS256", "secret", SECRET));
      Config config = ConfigFactory.parseMap(settings).withFallback(section(Map.of()).withoutPath(key));
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new JwtAuthProvider(config));
      assertEquals("synced-store.auth.jwt." + key + " is required when synced-store.auth.provider is jwt", e.getMessage());
    }
  }

  @Test
  void pemPublicKeysAreParsed() throws Exception {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> JwtAuthProvider.parsePublicKey("-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----"));
    assertTrue(e.getMessage().contains("PKCS#1"), e.getMessage());
    assertEquals(rsa.toPublicKey(), JwtAuthProvider.parsePublicKey(pem(rsa.toPublicKey())));
    assertEquals(ec.toPublicKey(), JwtAuthProvider.parsePublicKey(pem(ec.toPublicKey())));
    // PEM with \r\n line ends and surrounding blank lines
    assertEquals(rsa.toPublicKey(), JwtAuthProvider.parsePublicKey("\r\n" + pem(rsa.toPublicKey()).replace("\n", "\r\n")));
  }

  @Test
  void refusalsAreDebugLoggedWithoutTheToken() {
    String token = hs(with(c -> c.issuer("https://evil.example/")));
    tokensSeen.add(token);
    int before = logs.list.size();
    assertThrows(SyncException.class, () -> hs256.authenticate(token));
    assertTrue(logs.list.size() > before, "the refusal is logged");
    assertEquals("JWT refused: wrong issuer", logs.list.get(logs.list.size() - 1).getFormattedMessage());
  }

  private static JWSSigner signer(RSAKey key) {
    try {
      return new RSASSASigner(key);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
