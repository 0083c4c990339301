package io.syncedstore.client.impl;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.Entry;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.ReadTable;
import io.syncedstore.api.ScanOptions;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.Values;
import io.syncedstore.api.store.Row;
import io.syncedstore.api.store.Scans;
import io.syncedstore.api.store.StoreView;
import io.syncedstore.api.store.TableAddress;
import io.syncedstore.client.ReadTierTables;
import io.syncedstore.client.ReadTransaction;
import java.util.List;
import java.util.Optional;

/** A {@link ReadTransaction} over one {@link StoreView}; values handed out are copies. */
final class ViewTransaction implements ReadTransaction {
  private final AppDefinition app;
  private final StoreView view;
  private final String userId;

  ViewTransaction(AppDefinition app, StoreView view, String userId) {
    this.app = app;
    this.view = view;
    this.userId = userId;
  }

  @Override
  public ReadTable table(String name) {
    return new ViewTable(checked(name), TableAddress.publicTable(name));
  }

  @Override
  public ReadTierTables privateOfUser(String user) {
    if (user == null || user.isEmpty()) {
      throw new SyncException(ErrorCode.TIER_VIOLATION, "privateOfUser needs a user id");
    }
    return name -> new ViewTable(checked(name), TableAddress.privateTable(user, name));
  }

  @Override
  public Optional<String> userId() {
    return Optional.ofNullable(userId);
  }

  private String checked(String name) {
    app.table(name).orElseThrow(() -> new SyncException(ErrorCode.UNKNOWN_TABLE,
        "app '" + app.name() + "' has no table '" + name + "'"));
    return name;
  }

  private final class ViewTable implements ReadTable {
    private final String name;
    private final TableAddress address;

    ViewTable(String name, TableAddress address) {
      this.name = name;
      this.address = address;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public Optional<JsonNode> get(String itemKey) {
      Row row = view.get(address, itemKey);
      return row == null ? Optional.empty() : Optional.of(row.value().deepCopy());
    }

    @Override
    public <T> Optional<T> get(String itemKey, Class<T> type) {
      Row row = view.get(address, itemKey);
      return row == null ? Optional.empty() : Optional.of(Values.convert(row.value(), type, "value of " + name + "/" + itemKey));
    }

    @Override
    public boolean has(String itemKey) {
      return view.get(address, itemKey) != null;
    }

    @Override
    public List<Entry> scan(ScanOptions options) {
      return Scans.scan(view, address, options).stream().map(Row::toEntry).toList();
    }
  }
}
