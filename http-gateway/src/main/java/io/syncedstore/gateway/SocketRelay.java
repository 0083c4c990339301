package io.syncedstore.gateway;

import io.syncedstore.api.protocol.CloseCodes;
import io.syncedstore.runtime.ClientSession;
import io.syncedstore.runtime.LocalOnly;
import io.syncedstore.runtime.SocketOut;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The actor a client's {@link ClientSession} writes to, one per WebSocket connection, on the node
 * that holds the connection. It passes {@link SocketOut} on to the connection's outgoing stream
 * and ties the two ends' lifetimes together, which matters once they are on different nodes (the
 * cluster profile, where the session lives with its instance):
 *
 * <ul>
 *   <li>the session watches the relay: when the connection ends, or its node is gone, the session stops;
 *   <li>the relay watches the session: when the session ends without closing the connection (its
 *       instance's node crashed or left, or the instance restarted), the relay closes the connection
 *       with {@code 1012} (service restart) and the client reconnects, to wherever the instance is now.
 * </ul>
 */
final class SocketRelay {
  private SocketRelay() {}

  /** The session to watch, once connected. */
  record Attach(ActorRef<ClientSession.Command> session) implements LocalOnly {}

  /** The connection's streams ended: stop. */
  enum Detach implements LocalOnly { INSTANCE }

  /**
   * @param out the connection's outgoing stream
   * @return the relay's behavior: it takes {@link SocketOut} (what the session sees, through
   *     {@code ActorRef.narrow()}) and the relay's own {@link Attach} and {@link Detach}
   */
  static Behavior<Object> create(ActorRef<SocketOut> out) {
    long[] lastSeq = {0};
    return Behaviors.setup(context -> Behaviors.receive(Object.class)
        .onMessage(SocketOut.Text.class, text -> {
          if (text.seq() > 0) {
            if (text.seq() != lastSeq[0] + 1) {
              // A message of the session was lost between nodes (remoting is at most once): the
              // client would miss a poke. It reconnects and catches up from its cookie instead.
              context.getLog().debug("message {} of a session came after {}: one was lost; closing with 1012", text.seq(), lastSeq[0]);
              out.tell(new SocketOut.Close(CloseCodes.SERVICE_RESTART, "a message was lost between nodes; reconnect"));
              return Behaviors.stopped();
            }
            lastSeq[0] = text.seq();
          }
          out.tell(text);
          return Behaviors.same();
        })
        .onMessage(Attach.class, a -> {
          context.watchWith(a.session(), new SessionGone(a.session()));
          return Behaviors.same();
        })
        .onMessage(SessionGone.class, g -> {
          out.tell(new SocketOut.Close(CloseCodes.SERVICE_RESTART, "instance moved or restarted; reconnect"));
          return Behaviors.stopped();
        })
        .onMessageEquals(Detach.INSTANCE, Behaviors::stopped)
        .onMessage(SocketOut.class, message -> {
          out.tell(message);
          return Behaviors.same();
        })
        .build());
  }

  private record SessionGone(ActorRef<ClientSession.Command> session) implements LocalOnly {}
}
