package io.syncedstore.api.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.ErrorCode;
import java.util.List;
import java.util.Map;

/**
 * A message the server sends over the sync WebSocket ({@code docs/PROTOCOL.md}). A wire type:
 * never persisted, never a journal event.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, include = JsonTypeInfo.As.PROPERTY, property = "type")
@JsonSubTypes({
    @JsonSubTypes.Type(value = ServerMessage.Connected.class, name = "connected"),
    @JsonSubTypes.Type(value = ServerMessage.Poke.class, name = "poke"),
    @JsonSubTypes.Type(value = ServerMessage.MutationFailed.class, name = "mutationFailed"),
    @JsonSubTypes.Type(value = ServerMessage.Error.class, name = "error"),
    @JsonSubTypes.Type(value = ServerMessage.Pong.class, name = "pong"),
    @JsonSubTypes.Type(value = ServerMessage.ActionResult.class, name = "actionResult"),
    @JsonSubTypes.Type(value = ServerMessage.ActionFailed.class, name = "actionFailed")})
public sealed interface ServerMessage {

  /**
   * The answer to a hello: the session is live. The first poke follows.
   *
   * @param protocolVersion the protocol version the server speaks on this connection
   * @param userId the authenticated user, or {@code null} for anonymous
   * @param lastMutationId the server's last processed mutation id of this client (0 if none):
   *     resend pending mutations above it
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  record Connected(int protocolVersion, String userId, long lastMutationId) implements ServerMessage {}

  /**
   * Changes: apply {@code patch} to the replica at {@code baseCookie} to reach {@code cookie}.
   *
   * @param baseCookie the cookie the patch starts from (the hello's cookie or the previous poke's
   *     {@code cookie}; {@code null} for a client that had none). A patch that starts with
   *     {@code clear} applies whatever the replica holds
   * @param cookie the cookie after the patch
   * @param patch the operations, in order
   * @param lastMutationIdChanges last processed mutation ids of the client group's clients that changed
   */
  record Poke(String baseCookie, String cookie, List<PatchOp> patch,
      @JsonProperty("lastMutationIDChanges") Map<String, Long> lastMutationIdChanges) implements ServerMessage {}

  /**
   * A mutation of this client failed on the server: nothing it wrote was applied, its id is consumed.
   * Sent before the poke that confirms the id.
   *
   * @param id the mutation id
   * @param error why
   */
  record MutationFailed(long id, ErrorBody error) implements ServerMessage {}

  /**
   * Something the client sent was refused. When the server also closes, the close code follows.
   *
   * @param error the code and message
   */
  record Error(ErrorBody error) implements ServerMessage {}

  /**
   * The output of an action this client called.
   *
   * @param id the {@code id} of the client's {@code action} message
   * @param output what the action returned ({@code null} for none)
   */
  record ActionResult(String id, JsonNode output) implements ServerMessage {}

  /**
   * An action this client called failed or was refused.
   *
   * @param id the {@code id} of the client's {@code action} message
   * @param error why ({@code UNKNOWN_ACTION}, {@code INVALID_INPUT}, {@code OVERLOADED},
   *     {@code ACTION_FAILED}, {@code ACTION_TIMEOUT}...)
   */
  record ActionFailed(String id, ErrorBody error) implements ServerMessage {}

  /** The answer to a ping. */
  record Pong() implements ServerMessage {}

  /**
   * An error code and a message naming the problem.
   *
   * @param code the stable code ({@code docs/ERRORS.md})
   * @param message what was wrong
   * @param retryAfterMs for {@code RATE_LIMITED} and the other quota refusals: how long to wait
   *     before trying again, in milliseconds; absent otherwise
   */
  record ErrorBody(ErrorCode code, String message, @JsonInclude(JsonInclude.Include.NON_NULL) Long retryAfterMs) {
    /** An error without a retry-after. */
    public ErrorBody(ErrorCode code, String message) {
      this(code, message, null);
    }
  }
}
