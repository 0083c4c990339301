package io.syncedstore.api;

/**
 * Every error the engine reports, by a stable code. The codes are part of the public contract
 * (clients switch on them); {@code docs/ERRORS.md} describes each one.
 */
public enum ErrorCode {
  /** The push names a mutator that the app does not define. */
  UNKNOWN_MUTATOR,
  /** The mutation input does not match the mutator's input type (missing field, wrong type, unknown field). */
  INVALID_INPUT,
  /** The mutation input is larger than {@link Limits#maxInputBytes()}. */
  INPUT_TOO_LARGE,
  /** A written value is larger than {@link Limits#maxValueBytes()}. */
  VALUE_TOO_LARGE,
  /** An item key or sort key is empty or longer than {@link Limits#maxKeyLength()}. */
  INVALID_KEY,
  /** A mutation wrote more entries than {@link Limits#maxWritesPerMutation()}. */
  TOO_MANY_WRITES,
  /** A value is not plain JSON (NaN, infinity, not serializable, nested deeper than the limit). */
  NOT_JSON,
  /** A written value does not match the table's declared value type. */
  INVALID_VALUE,
  /** The mutator names a table the app does not define. */
  UNKNOWN_TABLE,
  /** A singleton table was written under an item key it does not declare. */
  UNKNOWN_ITEM,
  /** The mutator touched a tier it may not write (another user's private tier, or private without a user). */
  TIER_VIOLATION,
  /** A membership hook wrote the private tier of another user than the one concerned; nothing was applied. */
  TAMPER,
  /** The instance is members-only and the caller is not a member (close 4403). */
  NOT_A_MEMBER,
  /** The mutator threw; nothing it wrote was applied. */
  MUTATOR_FAILED,
  /** A push skipped a mutation id; nothing in the push was applied. */
  MUTATION_ID_GAP,
  /** The client id is owned by another user. */
  CLIENT_OWNED_BY_OTHER_USER,
  /** A request was malformed (bad JSON, missing field, invalid cookie, negative id). */
  BAD_REQUEST,
  /** The app or instance does not exist. */
  NOT_FOUND,
  /** The instance's bounded queue of pending pushes is full; retry later. */
  OVERLOADED,
  /** The instance could not answer in time; the request may or may not have been applied. */
  TIMEOUT,
  /** Authentication failed: no token where one is required, or a token refused (bad signature, wrong issuer or audience, expired...). */
  UNAUTHORIZED,
  /** The connection's token expired: reconnect with a fresh token (close 4440). */
  TOKEN_EXPIRED,
  /** The request's Origin is not one of {@code synced-store.http.allowed-origins}. */
  ORIGIN_NOT_ALLOWED,
  /**
   * A quota was exceeded ({@code synced-store.quotas}): messages or mutations per second, actions
   * per minute. The error carries {@code retryAfterMs} (HTTP: the {@code Retry-After} header);
   * over the socket the connection is closed with 4429 (an action call is only answered).
   */
  RATE_LIMITED,
  /** The user has as many sync connections, or connected instances, as {@code synced-store.quotas} allows (close 4429). */
  TOO_MANY_CONNECTIONS,
  /** A mutation wrote a table outside the principal's sync scopes, or a row its scopes do not cover; nothing was applied. */
  SCOPE_VIOLATION,
  /** A WebSocket message is not valid: not JSON, not an object, unknown type, a missing or mistyped field, nested too deep. */
  BAD_MESSAGE,
  /** A WebSocket message came at the wrong time: anything before the hello, or a second hello. */
  PROTOCOL_VIOLATION,
  /** The client speaks a protocol version (or push/pull version) the server does not. */
  VERSION_NOT_SUPPORTED,
  /** The client's app schema version differs from the server's. */
  SCHEMA_VERSION_MISMATCH,
  /** A newer connection of the same client id replaced this one. */
  SUPERSEDED,
  /** The request names an action that the app does not define. */
  UNKNOWN_ACTION,
  /** The action threw (its message says why), or its worker died; whatever it wrote through {@code ctx.mutate} before stays applied. */
  ACTION_FAILED,
  /** The action ran longer than its timeout and was abandoned; what it wrote through {@code ctx.mutate} before stays applied. */
  ACTION_TIMEOUT,
  /** An action called another app's instance, which that app does not accept calls from ({@code synced-store.actions.external-calls}). */
  CALL_NOT_ALLOWED,
  /** An action called a platform service the server does not have. */
  UNKNOWN_SERVICE,
  /** The server's configuration does not allow this platform call (an env variable or HTTP host off its allowlist, a blob over the size limit). */
  SERVICE_REFUSED,
  /** A platform service failed (an HTTP request that could not complete, a response over the size limit, a blob not found). */
  SERVICE_FAILED,
  /** A bug on the server; the message says no more than that. Nothing was acknowledged. */
  INTERNAL
}
