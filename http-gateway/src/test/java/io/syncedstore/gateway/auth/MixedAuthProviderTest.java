package io.syncedstore.gateway.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.auth.Principal;
import java.time.Instant;
import java.util.Date;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The mixed provider: no token is an anonymous user with its own stable id and the anonymous scopes; a token goes to the primary. */
class MixedAuthProviderTest {
  private static final String SECRET = "a mixed test secret of at least 32 bytes";

  /** @return the auth section: {@code hocon} over reference.conf's defaults */
  private static Config auth(String hocon) {
    return ConfigFactory.parseString(hocon).withFallback(ConfigFactory.defaultReference().getConfig("synced-store.auth")).resolve();
  }

  private static final String JWT = """
      provider = mixed
      jwt { algorithm = HS256, secret = "%s", issuer = "https://issuer.example/", audience = synced-store }
      """.formatted(SECRET);

  private static MixedAuthProvider mixed(String hocon) {
    AuthProvider provider = AuthProviders.fromConfig(auth(hocon));
    assertTrue(provider instanceof MixedAuthProvider, provider.getClass().getName());
    return (MixedAuthProvider) provider;
  }

  private static String token(String subject) throws Exception {
    SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), new JWTClaimsSet.Builder().subject(subject)
        .issuer("https://issuer.example/").audience("synced-store").expirationTime(Date.from(Instant.now().plusSeconds(60))).build());
    jwt.sign(new MACSigner(SECRET));
    return jwt.serialize();
  }

  @Test
  void anEmptyTokenIsAnAnonymousUserWithTheAnonymousScopes() {
    MixedAuthProvider mixed = mixed(JWT + """
        mixed.anonymous-scopes { notices {}, drafts { owner = "$userId", published = false } }
        """);
    for (String token : new String[] {null, ""}) {
      Authentication a = mixed.authenticate(token);
      assertTrue(a.anonymousIdentity());
      assertNull(a.expiresAt());
      assertNull(a.principal().userId(), "the id comes from the client group");
      assertTrue(a.principal().anonymous());
      assertEquals(Set.of(), a.principal().permissions());
      assertEquals("{\"drafts\":{\"owner\":\"$userId\",\"published\":false},\"notices\":{}}", a.principal().scopes().toJson().toString());
    }
  }

  @Test
  void anonymousIdsAreStablePerClientGroupAndBoundInTheScopes() {
    MixedAuthProvider mixed = mixed(JWT + """
        mixed.anonymous-scopes { drafts { owner = "$userId" } }
        """);
    Principal g1 = mixed.authenticate(null).forClientGroup("g1");
    Principal g1Again = mixed.authenticate("").forClientGroup("g1");
    Principal g2 = mixed.authenticate(null).forClientGroup("g2");
    assertEquals(g1.userId(), g1Again.userId(), "one client group, one anonymous user");
    assertNotEquals(g1.userId(), g2.userId());
    assertTrue(g1.userId().startsWith(Authentication.ANONYMOUS_PREFIX), g1.userId());
    assertFalse(g1.userId().contains("g1"), "the id does not reveal the group");
    assertTrue(g1.anonymous());
    assertEquals("{\"drafts\":{\"owner\":\"" + g1.userId() + "\"}}", g1.scopes().toJson().toString());
    assertEquals("{\"drafts\":{\"owner\":\"" + g2.userId() + "\"}}", g2.scopes().toJson().toString());
    assertTrue(g1.scopes().covers("drafts", io.syncedstore.api.Json.mapper().createObjectNode().put("owner", g1.userId())));
    assertFalse(g1.scopes().covers("drafts", io.syncedstore.api.Json.mapper().createObjectNode().put("owner", g2.userId())));
    assertFalse(g1.scopes().coversTable("todos"));
  }

  @Test
  void byDefaultAnonymousUsersSeeNoTable() {
    Principal p = mixed(JWT).authenticate(null).forClientGroup("g1");
    assertTrue(p.scoped());
    assertTrue(p.scopes().tables().isEmpty());
    assertFalse(p.scopes().coversTable("todos"));
  }

  @Test
  void aTokenGoesToThePrimary() throws Exception {
    MixedAuthProvider mixed = mixed(JWT);
    assertTrue(mixed.primary() instanceof JwtAuthProvider);
    Authentication a = mixed.authenticate(token("alice"));
    assertFalse(a.anonymousIdentity());
    assertEquals("alice", a.principal().userId());
    assertFalse(a.principal().anonymous());
    assertSame(a.principal(), a.forClientGroup("g1"), "a signed-in user keeps its id in every group");
    // the primary's refusals stand: a bad token is not downgraded to anonymous
    SyncException e = assertThrows(SyncException.class, () -> mixed.authenticate("not a token"));
    assertEquals(ErrorCode.UNAUTHORIZED, e.code());
    e = assertThrows(SyncException.class, () -> mixed.authenticate(token("anon-abc")));
    assertEquals(ErrorCode.UNAUTHORIZED, e.code());
  }

  @Test
  void devAndCallbackCanBePrimary() {
    MixedAuthProvider dev = mixed("provider = mixed, mixed.primary = dev");
    assertEquals("bob", dev.authenticate("dev:bob").principal().userId());
    assertTrue(dev.authenticate(null).anonymousIdentity(), "no token: mixed's anonymous user, not dev's");
    assertEquals(ErrorCode.UNAUTHORIZED, assertThrows(SyncException.class, () -> dev.authenticate("dev:anon-x")).code());

    MixedAuthProvider callback = mixed("provider = mixed, mixed.primary = callback, callback.class = \""
        + CallbackAuthProviderTest.TestValidator.class.getName() + "\"");
    assertEquals("carol", callback.authenticate("ok:carol").principal().userId());
  }

  @Test
  void badSettingsAreStartupErrorsNamingTheSetting() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> mixed("provider = mixed, mixed.primary = mixed"));
    assertEquals("unknown synced-store.auth.mixed.primary 'mixed' (jwt | callback | dev)", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> mixed("provider = mixed, mixed.primary = anonymous"));
    assertTrue(e.getMessage().contains("synced-store.auth.mixed.primary"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> mixed("provider = mixed, mixed.primary = dev, mixed.anonymous-scopes = [todos]"));
    assertTrue(e.getMessage().startsWith("synced-store.auth.mixed.anonymous-scopes"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> mixed("provider = mixed, mixed.primary = dev, mixed.anonymous-scopes { todos = 1 }"));
    assertTrue(e.getMessage().startsWith("synced-store.auth.mixed.anonymous-scopes"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> mixed("provider = mixed, mixed.primary = dev, mixed.anonymous-scopes { todos { a { b = 1 } } }"));
    assertTrue(e.getMessage().startsWith("synced-store.auth.mixed.anonymous-scopes"), e.getMessage());
    // the primary's own section is checked
    e = assertThrows(IllegalArgumentException.class, () -> mixed("provider = mixed"));
    assertTrue(e.getMessage().startsWith("synced-store.auth.jwt.algorithm"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> AuthProviders.fromConfig(auth("provider = oauth")));
    assertEquals("unknown synced-store.auth.provider 'oauth' (anonymous | dev | jwt | callback | mixed)", e.getMessage());
  }

  @Test
  void devRefusesAnonymousIds() {
    DevAuthProvider dev = new DevAuthProvider();
    assertEquals("anonymous-x", dev.authenticate("dev:anonymous-x").principal().userId());
    SyncException e = assertThrows(SyncException.class, () -> dev.authenticate("dev:anon-x"));
    assertEquals(ErrorCode.UNAUTHORIZED, e.code());
    assertTrue(e.getMessage().contains("reserved for anonymous users"), e.getMessage());
  }
}
