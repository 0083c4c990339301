package io.syncedstore.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;

/** Error replies keep their code on the way back to the caller; settings load from reference.conf. */
class InstanceErrorsTest {
  private static Throwable errorOf(StatusReply<?> reply) {
    assertTrue(reply.isError());
    return reply.getError();
  }

  @Test
  void anErrorReplyUnwrapsToTheSameCodeAndMessage() {
    SyncException original = new SyncException(ErrorCode.MUTATION_ID_GAP, "client c1: expected mutation id 2, got 3");
    StatusReply<Object> reply = InstanceErrors.reply(original);
    assertEquals("MUTATION_ID_GAP: client c1: expected mutation id 2, got 3", errorOf(reply).getMessage());

    // as askWithStatus delivers it: inside a CompletionException, possibly nested
    SyncException back = InstanceErrors.unwrap(new CompletionException(new CompletionException(errorOf(reply))));
    assertEquals(ErrorCode.MUTATION_ID_GAP, back.code());
    assertEquals(original.getMessage(), back.getMessage());

    // a message that itself contains ": " keeps everything after the code
    SyncException cookie = InstanceErrors.unwrap(errorOf(InstanceErrors.reply(ErrorCode.BAD_REQUEST, "cookie 'a: b' is bad")));
    assertEquals(ErrorCode.BAD_REQUEST, cookie.code());
    assertEquals("cookie 'a: b' is bad", cookie.getMessage());
  }

  @Test
  void unknownShapesBecomeBadRequestTimeoutOrInternal() {
    SyncException noCode = InstanceErrors.unwrap(errorOf(StatusReply.error("NOT_A_CODE: whatever")));
    assertEquals(ErrorCode.BAD_REQUEST, noCode.code());
    assertEquals("NOT_A_CODE: whatever", noCode.getMessage());
    assertEquals(ErrorCode.BAD_REQUEST, InstanceErrors.unwrap(errorOf(StatusReply.error("plain text"))).code());

    assertEquals(ErrorCode.TIMEOUT, InstanceErrors.unwrap(new CompletionException(new TimeoutException("ask timed out"))).code());
    assertEquals(ErrorCode.INTERNAL, InstanceErrors.unwrap(new IllegalStateException("dead")).code());

    SyncException direct = new SyncException(ErrorCode.OVERLOADED, "busy");
    assertSame(direct, InstanceErrors.unwrap(new CompletionException(direct)));
  }

  @Test
  void settingsDefaultToThisModulesReferenceConf() {
    RuntimeSettings defaults = RuntimeSettings.from(ConfigFactory.load());
    assertEquals(new RuntimeSettings(1000, 1, 2, Duration.ofSeconds(120), 10_000, 100_000, 1000, Duration.ofSeconds(10)), defaults);
    RuntimeSettings overridden = RuntimeSettings.from(
        ConfigFactory.parseString("synced-store.instance.idle-timeout = 250ms").withFallback(ConfigFactory.load()));
    assertEquals(Duration.ofMillis(250), overridden.idleTimeout());
  }
}
