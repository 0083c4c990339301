package io.syncedstore.api.store;

import io.syncedstore.api.Tier;
import java.util.Objects;

/**
 * One table in one tier: the unit the store keeps ordered.
 *
 * @param tier the tier
 * @param owner the owning user for {@link Tier#PRIVATE}, else {@code null}
 * @param table the table name
 */
public record TableAddress(Tier tier, String owner, String table) {
  /** Checks that exactly private tables have an owner. */
  public TableAddress {
    Objects.requireNonNull(tier, "tier");
    Objects.requireNonNull(table, "table");
    if ((tier == Tier.PRIVATE) != (owner != null)) {
      throw new IllegalArgumentException("a PRIVATE table needs an owner and other tiers none: " + tier + "/" + owner);
    }
  }

  /** @return the public table {@code table} */
  public static TableAddress publicTable(String table) {
    return new TableAddress(Tier.PUBLIC, null, table);
  }

  /** @return {@code userId}'s private table {@code table} */
  public static TableAddress privateTable(String userId, String table) {
    return new TableAddress(Tier.PRIVATE, userId, table);
  }

  /** @return the server-only table {@code table} */
  public static TableAddress serverOnlyTable(String table) {
    return new TableAddress(Tier.SERVER_ONLY, null, table);
  }
}
