package io.syncedstore.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.syncedstore.api.protocol.CloseCodes;
import io.syncedstore.runtime.ClientSession;
import io.syncedstore.runtime.SocketOut;
import java.time.Duration;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * The per-connection relay between a session (perhaps on another node) and the socket's stream:
 * numbered messages pass in order, a gap (a message lost between nodes) closes the connection with
 * 1012, and so does the session ending without closing it.
 */
class SocketRelayTest {
  private static final ActorTestKit KIT = ActorTestKit.create();
  /** A bound against hanging, not a speed claim. */
  private static final Duration WAIT = Duration.ofSeconds(5);

  @AfterAll
  static void stop() {
    KIT.shutdownTestKit();
  }

  @Test
  void numberedMessagesPassInOrderAndAGapClosesTheConnection() {
    TestProbe<SocketOut> out = KIT.createTestProbe();
    TestProbe<ClientSession.Command> session = KIT.createTestProbe();
    ActorRef<Object> relay = KIT.spawn(SocketRelay.create(out.ref()));
    ActorRef<SocketOut> socket = relay.narrow();
    SocketOut.Text first = new SocketOut.Text("{\"n\":1}", session.ref(), 1);
    SocketOut.Text second = new SocketOut.Text("{\"n\":2}", session.ref(), 2);
    SocketOut.Text unnumbered = new SocketOut.Text("{\"type\":\"error\"}", null);
    socket.tell(first);
    socket.tell(unnumbered);
    socket.tell(second);
    assertEquals(first, out.receiveMessage(WAIT));
    assertEquals(unnumbered, out.receiveMessage(WAIT));
    assertEquals(second, out.receiveMessage(WAIT));

    socket.tell(new SocketOut.Text("{\"n\":4}", session.ref(), 4)); // 3 was lost
    SocketOut.Close close = (SocketOut.Close) out.receiveMessage(WAIT);
    assertEquals(CloseCodes.SERVICE_RESTART, close.code());
    out.expectTerminated(relay, WAIT);
  }

  @Test
  void aSessionEndingWithoutClosingClosesTheConnection() {
    TestProbe<SocketOut> out = KIT.createTestProbe();
    TestProbe<ClientSession.Command> session = KIT.createTestProbe();
    ActorRef<Object> relay = KIT.spawn(SocketRelay.create(out.ref()));
    relay.tell(new SocketRelay.Attach(session.ref()));
    out.expectNoMessage(Duration.ofMillis(100));
    session.stop(); // its node died, say
    SocketOut.Close close = (SocketOut.Close) out.receiveMessage(WAIT);
    assertEquals(CloseCodes.SERVICE_RESTART, close.code());
    out.expectTerminated(relay, WAIT);
  }

  @Test
  void theRelayStopsWhenTheConnectionEnds() {
    TestProbe<SocketOut> out = KIT.createTestProbe();
    ActorRef<Object> relay = KIT.spawn(SocketRelay.create(out.ref()));
    relay.tell(SocketRelay.Detach.INSTANCE);
    out.expectTerminated(relay, WAIT);
    out.expectNoMessage(Duration.ofMillis(100));
  }
}
