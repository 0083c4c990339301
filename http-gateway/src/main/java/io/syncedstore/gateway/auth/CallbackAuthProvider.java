package io.syncedstore.gateway.auth;

import com.typesafe.config.Config;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Modifier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tokens validated by app code ({@code synced-store.auth.provider = callback}): the class that
 * {@code synced-store.auth.callback.class} names implements {@link AuthProvider}, has a public
 * no-arg constructor, and turns a token into a user id, scopes and permissions, or refuses it with
 * a {@link SyncException} ({@link ErrorCode#UNAUTHORIZED}).
 *
 * <p>Its {@link SyncException}s pass through as they are. Any other {@link RuntimeException}, and
 * a {@code null} result, refuse the token with {@code UNAUTHORIZED "token validation failed"} and
 * are logged at warn, without the token. A signed-in user id may not start with
 * {@value Authentication#ANONYMOUS_PREFIX}, which is reserved for anonymous users.
 */
public final class CallbackAuthProvider implements AuthProvider {
  private static final Logger log = LoggerFactory.getLogger(CallbackAuthProvider.class);
  private static final String SETTING = "synced-store.auth.callback.class";

  private final AuthProvider validator;

  /**
   * @param callback the {@code synced-store.auth.callback} section
   * @throws IllegalArgumentException when the class is not set, not found, not an {@link AuthProvider}
   *     or cannot be constructed; the message names the setting
   */
  public CallbackAuthProvider(Config callback) {
    this(instantiate(callback.hasPath("class") ? callback.getString("class").trim() : ""));
  }

  /** @param validator the app's validator */
  public CallbackAuthProvider(AuthProvider validator) {
    this.validator = validator;
  }

  private static AuthProvider instantiate(String className) {
    if (className.isEmpty()) {
      throw new IllegalArgumentException(SETTING + " is required when synced-store.auth.provider is callback");
    }
    ClassLoader loader = Thread.currentThread().getContextClassLoader();
    if (loader == null) {
      loader = CallbackAuthProvider.class.getClassLoader();
    }
    Class<?> type;
    try {
      type = Class.forName(className, true, loader);
    } catch (ClassNotFoundException | LinkageError e) {
      throw new IllegalArgumentException(SETTING + ": class " + className + " cannot be loaded (" + e + ")", e);
    }
    if (!AuthProvider.class.isAssignableFrom(type)) {
      throw new IllegalArgumentException(SETTING + ": " + className + " does not implement " + AuthProvider.class.getName());
    }
    if (type.isInterface() || Modifier.isAbstract(type.getModifiers())) {
      throw new IllegalArgumentException(SETTING + ": " + className + " is abstract; name a concrete class");
    }
    try {
      Constructor<?> constructor = type.getConstructor();
      return (AuthProvider) constructor.newInstance();
    } catch (NoSuchMethodException e) {
      throw new IllegalArgumentException(SETTING + ": " + className + " has no public no-arg constructor", e);
    } catch (InvocationTargetException e) {
      throw new IllegalArgumentException(SETTING + ": the constructor of " + className + " failed: " + e.getCause(), e.getCause());
    } catch (ReflectiveOperationException e) {
      throw new IllegalArgumentException(SETTING + ": cannot construct " + className + ": " + e, e);
    }
  }

  /** @return the app's validator */
  public AuthProvider validator() {
    return validator;
  }

  @Override
  public Authentication authenticate(String token) {
    Authentication result;
    try {
      result = validator.authenticate(token);
    } catch (SyncException e) {
      throw e;
    } catch (RuntimeException e) {
      log.warn("token validation failed: {} threw {}{}", validator.getClass().getName(), e.getClass().getName(), where(e));
      throw failed();
    }
    if (result == null || result.principal() == null) {
      log.warn("token validation failed: {} returned no authentication", validator.getClass().getName());
      throw failed();
    }
    String userId = result.principal().userId();
    if (!result.anonymousIdentity() && userId != null && userId.startsWith(Authentication.ANONYMOUS_PREFIX)) {
      log.warn("token validation failed: {} returned a user id starting with '{}', which is reserved for anonymous users",
          validator.getClass().getName(), Authentication.ANONYMOUS_PREFIX);
      throw failed();
    }
    return result;
  }

  /**
   * @return where {@code e} was thrown; not its message nor its stack trace, which may hold the
   *     token (app code might put it in the message)
   */
  private static String where(RuntimeException e) {
    StackTraceElement[] trace = e.getStackTrace();
    return trace.length == 0 ? "" : " at " + trace[0];
  }

  private static SyncException failed() {
    return new SyncException(ErrorCode.UNAUTHORIZED, "token validation failed");
  }
}
