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

  /** @return the persistence id, {@code app|instanceId} */
  public String persistenceId() {
    return app + "|" + instanceId;
  }

  @Override
  public String toString() {
    return app + "/" + instanceId;
  }
}
