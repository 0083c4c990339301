package io.syncedstore.runtime;

import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;
import java.util.regex.Pattern;

/**
 * An instance's identity, {@code app/instanceId}.
 *
 * @param app the app name
 * @param instanceId the instance within the app: 1-128 of {@code [A-Za-z0-9_.-]}
 */
public record InstanceId(String app, String instanceId) implements JsonSerializable {
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9_.-]{1,128}");

  /** Validates the instance id. */
  public InstanceId {
    if (instanceId == null || !ID.matcher(instanceId).matches()) {
      throw new SyncException(ErrorCode.BAD_REQUEST, "instance id must match " + ID.pattern() + ", got '"
          + (instanceId == null ? null : instanceId.length() > 140 ? instanceId.substring(0, 140) + "..." : instanceId) + "'");
    }
  }

  /**
   * @param text {@code app/instanceId}, as {@link #toString()} writes it (the cluster's entity id)
   * @return the instance id
   * @throws SyncException {@link ErrorCode#BAD_REQUEST} when {@code text} is not one
   */
  public static InstanceId parse(String text) {
    int slash = text.indexOf('/');
    if (slash <= 0) {
      throw new SyncException(ErrorCode.BAD_REQUEST, "not an instance id (app/instanceId): '" + text + "'");
    }
    return new InstanceId(text.substring(0, slash), text.substring(slash + 1));
  }

  /** @return the persistence id, {@code app|instanceId} */
  public String persistenceId() {
    return app + "|" + instanceId;
  }

  @Override
  public String toString() {
    return app + "/" + instanceId;
  }
}
