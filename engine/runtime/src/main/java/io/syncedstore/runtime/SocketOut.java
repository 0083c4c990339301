package io.syncedstore.runtime;

/**
 * What a {@link ClientSession} hands to its client's socket. The gateway turns {@link Text} into a
 * WebSocket text message and {@link Close} into a close frame, in the order they were sent, and
 * reports every written {@link Text} back to the session with {@link ClientSession.Delivered}.
 */
public sealed interface SocketOut extends JsonSerializable {
  /**
   * One message.
   *
   * <p>Between nodes (the cluster profile) delivery is at most once: Pekko's remoting drops
   * messages when its send queue to a node overflows. A session therefore numbers what it hands
   * out ({@code seq} 1, 2, 3...): the socket's side closes the connection with 1012 on a gap (the
   * client reconnects and catches up from its cookie), and acknowledges cumulatively with
   * {@link ClientSession.DeliveredUpTo}, so one lost acknowledgement is healed by the next.
   *
   * @param json the message, a JSON object
   * @param ackTo gets {@link ClientSession.DeliveredUpTo} ({@code seq > 0}) or
   *     {@link ClientSession.Delivered} once the message is written, or {@code null} for no acknowledgement
   * @param seq the session's number for this message, or 0 for an unnumbered one
   */
  record Text(String json, org.apache.pekko.actor.typed.ActorRef<ClientSession.Command> ackTo, long seq) implements SocketOut {
    /** An unnumbered message. */
    public Text(String json, org.apache.pekko.actor.typed.ActorRef<ClientSession.Command> ackTo) {
      this(json, ackTo, 0);
    }
  }

  /**
   * Close the connection after everything sent before.
   *
   * @param code the WebSocket close code ({@code docs/PROTOCOL.md})
   * @param reason a short reason, at most 123 bytes of UTF-8
   */
  record Close(int code, String reason) implements SocketOut {}
}
