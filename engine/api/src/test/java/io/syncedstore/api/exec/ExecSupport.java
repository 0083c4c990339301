package io.syncedstore.api.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.store.EntryStore;
import io.syncedstore.api.store.Write;
import java.util.HashSet;
import java.util.Set;

/** Helpers shared by the executor tests. */
final class ExecSupport {
  static final JsonNodeFactory F = JsonNodeFactory.instance;

  private ExecSupport() {}

  static JsonNode json(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (Exception e) {
      throw new IllegalArgumentException(text, e);
    }
  }

  static MutationInvocation invocation(String name, JsonNode args, String userId) {
    return new MutationInvocation("client-1", 1, name, args, userId, 1_700_000_000_000L);
  }

  static MutationOutcome.Applied applied(MutationOutcome outcome) {
    return assertInstanceOf(MutationOutcome.Applied.class, outcome, () -> "expected Applied, got " + outcome);
  }

  static MutationOutcome.Failed failed(MutationOutcome outcome, ErrorCode code) {
    MutationOutcome.Failed f = assertInstanceOf(MutationOutcome.Failed.class, outcome, () -> "expected Failed " + code + ", got " + outcome);
    assertEquals(code, f.code(), f.message());
    return f;
  }

  /** Applies every write of {@code outcome} to {@code store} at {@code version}. */
  static void apply(EntryStore store, MutationOutcome outcome, long version) {
    for (Write w : applied(outcome).writes()) {
      store.apply(w, version);
    }
  }

  /** Everything the store holds (rows, tombstones, versions, horizon), comparable with equals. */
  static Set<Object> snapshot(EntryStore store) {
    EntryStore.Exported e = store.export();
    Set<Object> out = new HashSet<>();
    // as text, so that a value changed in place would show up too
    for (EntryStore.StoredRow row : e.rows()) {
      Write w = row.write();
      out.add(w.address() + "/" + w.itemKey() + "/" + w.sortKey() + "@" + row.version() + "="
          + (w.value() == null ? "deleted" : Json.text(w.value())));
    }
    out.add("horizon=" + e.horizon());
    return out;
  }
}
