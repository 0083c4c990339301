package io.syncedstore.gateway.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.auth.Principal;
import io.syncedstore.api.auth.Scopes;
import java.time.Instant;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The callback provider: app code validates tokens; its failures refuse without leaking the token. */
class CallbackAuthProviderTest {
  /**
   * An app's validator: {@code ok:<user>} signs in with a scope and a permission, {@code no:...}
   * is refused by the app, {@code boom:...} throws, {@code null:...} returns null, {@code anon:...}
   * claims a reserved id.
   */
  public static final class TestValidator implements AuthProvider {
    @Override
    public Authentication authenticate(String token) {
      if (token == null) {
        throw new SyncException(ErrorCode.UNAUTHORIZED, "sign in first");
      }
      if (token.startsWith("ok:")) {
        Scopes scopes = Scopes.fromJson(JsonNodeFactory.instance.objectNode().set("todos", JsonNodeFactory.instance.objectNode()));
        return Authentication.of(new Principal(token.substring(3), false, scopes, Set.of("todos.admin")), Instant.parse("2030-01-01T00:00:00Z"));
      }
      if (token.startsWith("no:")) {
        throw new SyncException(ErrorCode.UNAUTHORIZED, "the app refuses this user");
      }
      if (token.startsWith("null:")) {
        return null;
      }
      if (token.startsWith("anon:")) {
        return Authentication.of(Principal.user("anon-" + token.substring(5)), null);
      }
      throw new IllegalStateException("cannot validate " + token); // app code that leaks the token into its message
    }
  }

  /** Not an AuthProvider. */
  public static final class NotAProvider {}

  /** No public no-arg constructor. */
  public static final class NeedsArguments implements AuthProvider {
    public NeedsArguments(String setting) {}

    @Override
    public Authentication authenticate(String token) {
      return Authentication.ANONYMOUS;
    }
  }

  /** A constructor that fails. */
  public static final class FailsToStart implements AuthProvider {
    public FailsToStart() {
      throw new IllegalStateException("no database");
    }

    @Override
    public Authentication authenticate(String token) {
      return Authentication.ANONYMOUS;
    }
  }

  private static Config auth(String className) {
    return ConfigFactory.parseString("provider = callback\ncallback.class = \"" + className + "\"")
        .withFallback(ConfigFactory.defaultReference().getConfig("synced-store.auth"));
  }

  private static AuthProvider fromConfig(String className) {
    return AuthProviders.fromConfig(auth(className));
  }

  @Test
  void theAppsValidatorMapsTokensToPrincipals() {
    AuthProvider provider = fromConfig(TestValidator.class.getName());
    assertTrue(provider instanceof CallbackAuthProvider);
    assertTrue(((CallbackAuthProvider) provider).validator() instanceof TestValidator);
    Authentication a = provider.authenticate("ok:alice");
    assertEquals("alice", a.principal().userId());
    assertEquals(Set.of("todos"), a.principal().scopes().tables().keySet());
    assertEquals(Set.of("todos.admin"), a.principal().permissions());
    assertEquals(Instant.parse("2030-01-01T00:00:00Z"), a.expiresAt());
  }

  @Test
  void theAppsRefusalsPassThrough() {
    AuthProvider provider = fromConfig(TestValidator.class.getName());
    SyncException e = assertThrows(SyncException.class, () -> provider.authenticate("no:mallory"));
    assertEquals(ErrorCode.UNAUTHORIZED, e.code());
    assertEquals("the app refuses this user", e.getMessage());
    assertEquals("sign in first", assertThrows(SyncException.class, () -> provider.authenticate(null)).getMessage());
  }

  @Test
  void anAppFailureRefusesTheTokenAndLogsAWarningWithoutIt() {
    AuthProvider provider = fromConfig(TestValidator.class.getName());
    ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(CallbackAuthProvider.class);
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    logger.addAppender(logs);
    try {
      String secret = "boom:s3cr3t-token-value";
      SyncException e = assertThrows(SyncException.class, () -> provider.authenticate(secret));
      assertEquals(ErrorCode.UNAUTHORIZED, e.code());
      assertEquals("token validation failed", e.getMessage());
      assertEquals(1, logs.list.size());
      ILoggingEvent warning = logs.list.get(0);
      assertEquals(ch.qos.logback.classic.Level.WARN, warning.getLevel());
      assertTrue(warning.getFormattedMessage().contains(TestValidator.class.getName()), warning.getFormattedMessage());
      assertTrue(warning.getFormattedMessage().contains("IllegalStateException"), warning.getFormattedMessage());
      assertFalse(warning.getFormattedMessage().contains("s3cr3t"), warning.getFormattedMessage());
      assertEquals(null, warning.getThrowableProxy(), "no stack trace: its message holds the token");

      assertEquals("token validation failed", assertThrows(SyncException.class, () -> provider.authenticate("null:x")).getMessage());
      assertEquals("token validation failed", assertThrows(SyncException.class, () -> provider.authenticate("anon:x")).getMessage());
      assertEquals(3, logs.list.size());
      logs.list.forEach(event -> assertFalse(event.getFormattedMessage().contains("null:x") || event.getFormattedMessage().contains("anon:x")));
    } finally {
      logger.detachAppender(logs);
    }
  }

  @Test
  void badClassesAreStartupErrorsNamingTheSetting() {
    String setting = "synced-store.auth.callback.class";
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> fromConfig("com.example.Missing"));
    assertTrue(e.getMessage().startsWith(setting + ": class com.example.Missing cannot be loaded"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> fromConfig(NotAProvider.class.getName()));
    assertEquals(setting + ": " + NotAProvider.class.getName() + " does not implement " + AuthProvider.class.getName(), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> fromConfig(NeedsArguments.class.getName()));
    assertEquals(setting + ": " + NeedsArguments.class.getName() + " has no public no-arg constructor", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> fromConfig(FailsToStart.class.getName()));
    assertTrue(e.getMessage().startsWith(setting + ": the constructor of " + FailsToStart.class.getName() + " failed"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> fromConfig(AuthProvider.class.getName()));
    assertTrue(e.getMessage().contains("abstract"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> AuthProviders.fromConfig(
        ConfigFactory.parseString("provider = callback").withFallback(ConfigFactory.defaultReference().getConfig("synced-store.auth"))));
    assertEquals(setting + " is required when synced-store.auth.provider is callback", e.getMessage());
  }

  @Test
  void theClassIsLoadedWithTheContextClassLoader() {
    Config auth = auth(TestValidator.class.getName());
    Thread thread = Thread.currentThread();
    ClassLoader previous = thread.getContextClassLoader();
    ClassLoader empty = new ClassLoader(null) {};
    thread.setContextClassLoader(empty);
    try {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AuthProviders.fromConfig(auth));
      assertTrue(e.getMessage().contains("cannot be loaded"), e.getMessage());
    } finally {
      thread.setContextClassLoader(previous);
    }
    assertTrue(AuthProviders.fromConfig(auth) instanceof CallbackAuthProvider);
  }
}
