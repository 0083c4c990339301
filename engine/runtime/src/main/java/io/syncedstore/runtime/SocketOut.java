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
   * @param json the message, a JSON object
   * @param ackTo gets {@link ClientSession.Delivered} once the message is written, or {@code null}
   */
  record Text(String json, org.apache.pekko.actor.typed.ActorRef<ClientSession.Command> ackTo) implements SocketOut {}

  /**
   * Close the connection after everything sent before.
   *
   * @param code the WebSocket close code ({@code docs/PROTOCOL.md})
   * @param reason a short reason, at most 123 bytes of UTF-8
   */
  record Close(int code, String reason) implements SocketOut {}
}
