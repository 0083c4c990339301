package io.syncedstore.api.protocol;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Optional;

/**
 * A message a client sends over the sync WebSocket ({@code docs/PROTOCOL.md}). Each is one JSON
 * object whose {@code type} names it. A wire type: never persisted, never a journal event.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, include = JsonTypeInfo.As.PROPERTY, property = "type")
@JsonSubTypes({
    @JsonSubTypes.Type(value = ClientMessage.Hello.class, name = "hello"),
    @JsonSubTypes.Type(value = ClientMessage.Push.class, name = "push"),
    @JsonSubTypes.Type(value = ClientMessage.Ping.class, name = "ping"),
    @JsonSubTypes.Type(value = ClientMessage.Action.class, name = "action"),
    @JsonSubTypes.Type(value = ClientMessage.Auth.class, name = "auth")})
public sealed interface ClientMessage {

  /**
   * The first message of every connection.
   *
   * @param protocolVersion the protocol version the client speaks; the server speaks {@link #PROTOCOL_VERSION}
   * @param clientGroupId the client's group (one per browser profile or app install)
   * @param clientId the client (one per tab or process); owned by the first user that uses it
   * @param cookie the cookie the client holds, absent for a client with no data yet
   * @param schemaVersion the app schema version the client was built against; must equal the server's
   * @param auth the token for the server's auth provider, absent for anonymous
   */
  record Hello(int protocolVersion, String clientGroupId, String clientId, Optional<String> cookie, int schemaVersion,
      Optional<String> auth) implements ClientMessage {}

  /**
   * Mutations of the hello's client, ids strictly increasing.
   *
   * @param mutations one or more mutations
   */
  record Push(List<MutationRequest> mutations) implements ClientMessage {}

  /**
   * Call an action. The answer is an {@code actionResult} or {@code actionFailed} with the same
   * {@code id}, to this connection only. A client that wants the action to see its own mutations
   * waits until they are confirmed before sending this (the Java client does).
   *
   * @param id the client's id for this call, echoed in the answer (1 to 64 characters)
   * @param name the action
   * @param args its input
   */
  record Action(String id, String name, JsonNode args) implements ClientMessage {}

  /** A heartbeat; the server answers {@link ServerMessage.Pong}. */
  record Ping() implements ClientMessage {}

  /**
   * A fresh token for the connection's user, before the old one expires or to take new scopes:
   * {@code {"type": "auth", "token": "..."}}. A token of another user, or a refused one, closes the
   * connection (4401); a token with other scopes brings the client to its new view.
   *
   * @param token the token
   */
  record Auth(String token) implements ClientMessage {}

  /** The protocol version this build speaks. */
  int PROTOCOL_VERSION = 1;
}
