package io.syncedstore.gateway;

import io.syncedstore.api.protocol.CloseCodes;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.apache.pekko.http.impl.engine.ws.FrameEvent;
import org.apache.pekko.http.impl.engine.ws.FrameEvent$;
import org.apache.pekko.http.impl.engine.ws.FrameStart;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.BidiShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.stream.stage.TimerGraphStageLogic;
import org.apache.pekko.util.ByteString;

/**
 * The lowest layer of a sync socket, between the network's WebSocket frames and Pekko HTTP's
 * message layer. It does the two things Pekko HTTP's public API cannot (as of 1.3):
 *
 * <ul>
 *   <li>refuses a message larger than the limit as soon as a frame header says so, before its
 *       payload is read, closing with 1009;
 *   <li>closes with any close code: an outgoing text message made by {@link #closeMarker} becomes
 *       a close frame with that code, in order after every message sent before it.
 * </ul>
 *
 * <p>It uses Pekko HTTP's internal frame model ({@code impl.engine.ws}), which is why the
 * Pekko HTTP version is pinned; {@code SyncSocketTest} fails if an upgrade changes it.
 */
final class FrameGuard extends GraphStage<BidiShape<FrameEvent, FrameEvent, FrameEvent, FrameEvent>> {
  private static final byte OPCODE_CONTINUATION = 0;
  private static final byte OPCODE_TEXT = 1;
  private static final byte OPCODE_BINARY = 2;
  private static final byte OPCODE_CLOSE = 8;
  /** Outgoing messages starting with this byte are close requests; our JSON messages start with '{'. */
  private static final char MARKER = '\u0000';
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(2);

  private final Inlet<FrameEvent> fromNet = Inlet.create("FrameGuard.fromNet");
  private final Outlet<FrameEvent> toStack = Outlet.create("FrameGuard.toStack");
  private final Inlet<FrameEvent> fromStack = Inlet.create("FrameGuard.fromStack");
  private final Outlet<FrameEvent> toNet = Outlet.create("FrameGuard.toNet");
  private final BidiShape<FrameEvent, FrameEvent, FrameEvent, FrameEvent> shape = BidiShape.of(fromNet, toStack, fromStack, toNet);
  private final long maxMessageBytes;

  /** @param maxMessageBytes the largest incoming message, in bytes of payload over all its frames */
  FrameGuard(long maxMessageBytes) {
    this.maxMessageBytes = maxMessageBytes;
  }

  /** @return the text of an outgoing message that closes the socket with {@code code} and {@code reason} */
  static String closeMarker(int code, String reason) {
    return MARKER + Integer.toString(code) + ":" + reason;
  }

  @Override
  public BidiShape<FrameEvent, FrameEvent, FrameEvent, FrameEvent> shape() {
    return shape;
  }

  @Override
  public GraphStageLogic createLogic(Attributes attributes) {
    return new TimerGraphStageLogic(shape) {
      private long messageBytes;
      private boolean closing;

      {
        setHandler(fromNet, new AbstractInHandler() {
          @Override
          public void onPush() {
            FrameEvent event = grab(fromNet);
            if (closing) {
              if (event instanceof FrameStart start && start.header().opcode().code() == OPCODE_CLOSE) {
                completeStage(); // the peer answered our close frame
              } else {
                pull(fromNet);
              }
              return;
            }
            if (event instanceof FrameStart start) {
              byte opcode = start.header().opcode().code();
              if (opcode == OPCODE_TEXT || opcode == OPCODE_BINARY) {
                messageBytes = 0;
              }
              if (opcode == OPCODE_TEXT || opcode == OPCODE_BINARY || opcode == OPCODE_CONTINUATION) {
                messageBytes += start.header().length();
                if (messageBytes > maxMessageBytes) {
                  close(CloseCodes.MESSAGE_TOO_BIG, "message larger than " + maxMessageBytes + " bytes");
                  return;
                }
              }
            }
            push(toStack, event);
          }
        });
        setHandler(toStack, new AbstractOutHandler() {
          @Override
          public void onPull() {
            if (!closing) {
              pull(fromNet);
            }
          }

          @Override
          public void onDownstreamFinish(Throwable cause) {
            if (!closing) {
              completeStage();
            }
          }
        });
        setHandler(fromStack, new AbstractInHandler() {
          @Override
          public void onPush() {
            FrameEvent event = grab(fromStack);
            if (!closing && event instanceof FrameStart start && start.header().opcode().code() == OPCODE_TEXT
                && start.lastPart() && start.data().nonEmpty() && start.data().head() == (byte) MARKER) {
              String text = start.data().drop(1).utf8String();
              int colon = text.indexOf(':');
              close(Integer.parseInt(text.substring(0, colon)), text.substring(colon + 1));
              return;
            }
            if (closing) {
              pull(fromStack); // the stack's own close frame, or anything after ours: dropped
              return;
            }
            push(toNet, event);
          }

          @Override
          public void onUpstreamFinish() {
            if (!closing) {
              completeStage();
            }
          }

          @Override
          public void onUpstreamFailure(Throwable cause) {
            if (!closing) {
              failStage(cause);
            } // else: the layers above end with the MessageRefused the guard sent them; the close frame is on its way
          }
        });
        setHandler(toNet, new AbstractOutHandler() {
          @Override
          public void onPull() {
            if (!closing && !hasBeenPulled(fromStack)) {
              pull(fromStack);
            }
          }
        });
      }

      /**
       * Sends a close frame, then waits (bounded) for the peer's and ends the connection. The layers
       * above see a failure, not an end: a message cut off here must never be read as complete.
       */
      private void close(int code, String reason) {
        closing = true;
        fail(toStack, new MessageRefused(code, reason));
        if (!hasBeenPulled(fromStack) && !isClosed(fromStack)) {
          pull(fromStack);
        }
        if (!hasBeenPulled(fromNet) && !isClosed(fromNet)) {
          pull(fromNet);
        }
        FrameStart frame = FrameEvent$.MODULE$.closeFrame(code, truncate(reason), scala.Option.empty());
        emit(toNet, frame, () -> scheduleOnce("close-timeout", CLOSE_TIMEOUT));
      }

      @Override
      public void onTimer(Object key) {
        completeStage();
      }
    };
  }

  /** Ends the message layers above when the guard closes the connection; never reaches the client. */
  static final class MessageRefused extends RuntimeException {
    MessageRefused(int code, String reason) {
      super("connection closed with " + code + ": " + reason, null, false, false);
    }
  }

  /** A close frame's reason holds at most 123 bytes. */
  private static String truncate(String reason) {
    byte[] bytes = reason.getBytes(StandardCharsets.UTF_8);
    if (bytes.length <= 123) {
      return reason;
    }
    return ByteString.fromArray(bytes, 0, 120).decodeString(StandardCharsets.UTF_8).replace("\uFFFD", "") + "...";
  }
}
