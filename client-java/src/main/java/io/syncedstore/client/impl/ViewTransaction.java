package io.syncedstore.client.impl;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.Entry;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.EntryKey;
import io.syncedstore.api.ScanOptions;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.Values;
import io.syncedstore.api.store.Row;
import io.syncedstore.api.store.Scans;
import io.syncedstore.api.store.StoreView;
import io.syncedstore.api.store.TableAddress;
import io.syncedstore.client.ClientTable;
import io.syncedstore.client.ReadTierTables;
import io.syncedstore.client.ReadTransaction;
import java.util.ArrayList;
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
  public ClientTable table(String name) {
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
    app.requireTable(name);
    return name;
  }

  private final class ViewTable implements ClientTable {
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

    @Override
    public List<Entry> aroundCursor(ScanOptions options, EntryKey cursor, int before, int after) {
      if (before < 0 || after < 0) {
        throw new IllegalArgumentException("before and after must be >= 0, got " + before + " and " + after);
      }
      ScanOptions base = options.prefix() == null ? ScanOptions.all()
          : options.prefixOn() == ScanOptions.PrefixOn.SORT_KEY ? ScanOptions.all().sortKeyPrefix(options.prefix())
          : ScanOptions.all().itemKeyPrefix(options.prefix());
      List<Entry> window = new ArrayList<>(before + after + 1);
      if (before > 0) {
        window.addAll(scan(base.cursor(cursor).reverse().limit(before)));
      }
      Row at = view.get(address, cursor.itemKey());
      if (at != null && at.sortKey().equals(cursor.sortKey()) && inPrefix(options, at)) {
        window.add(at.toEntry());
      }
      if (after > 0) {
        window.addAll(scan(base.cursor(cursor).limit(after)));
      }
      return window;
    }

    private boolean inPrefix(ScanOptions options, Row row) {
      if (options.prefix() == null) {
        return true;
      }
      String key = options.prefixOn() == ScanOptions.PrefixOn.SORT_KEY ? row.sortKey() : row.itemKey();
      return key.startsWith(options.prefix());
    }
  }
}
