package io.syncedstore.client.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.Table;
import io.syncedstore.client.SyncClient;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Actions calling other instances: of another app (when that app allows it) and of the same app. */
class ExternalCallsTest {
  /**
   * Input of {@code credit} and {@code checkout}.
   *
   * @param orderId the order, also the ledger entry's key
   * @param amount the amount
   */
  record Credit(String orderId, long amount) {}

  /** Input of {@code balance}: none. */
  record Nothing() {}

  static final AppDefinition LEDGER = AppDefinition.builder("ledger").schemaVersion(1)
      .table("entries", Long.class)
      .table("totals", Long.class)
      .mutator("credit", Credit.class, (ctx, in) -> {
        ctx.table("entries").set(in.orderId(), in.amount());
        Table totals = ctx.table("totals");
        totals.set("all", totals.get("all", Long.class).orElse(0L) + in.amount());
      })
      .action("balance", Nothing.class, Long.class, (ctx, in) -> ctx.table("totals").get("all", Long.class).orElse(0L))
      .build();

  static final AppDefinition SHOP = AppDefinition.builder("shop").schemaVersion(1)
      .table("orders", String.class)
      .mutator("recordOrder", Credit.class, (ctx, in) -> ctx.table("orders").set(in.orderId(), "paid"))
      .action("checkout", Credit.class, Long.class, (ctx, in) -> {
        ctx.external("ledger", "main").mutate("credit", in);
        ctx.external("shop", "archive").mutate("recordOrder", in); // another instance of the same app
        JsonNode balance = ctx.external("ledger", "main").action("balance", new Nothing());
        ctx.mutate("recordOrder", in);
        return balance.asLong();
      })
      .build();

  @Test
  void anActionMutatesAndCallsAnotherAppsInstanceOnceWhenThatAppAllowsIt() throws Exception {
    try (SyncTestKit kit = SyncTestKit.builder(SHOP, LEDGER)
        .serverSetting("synced-store.actions.external-calls.ledger", List.of("shop")).start()) {
      SyncClient buyer = kit.createClient("alice");
      SyncClient accountant = kit.createClient("bob", b -> b.app(LEDGER).instanceId("main"));
      SyncClient archivist = kit.createClient("carol", b -> b.instanceId("archive"));
      assertEquals(30L, buyer.action("checkout", new Credit("o1", 30), Long.class).get(20, TimeUnit.SECONDS));
      assertEquals(42L, buyer.action("checkout", new Credit("o2", 12), Long.class).get(20, TimeUnit.SECONDS));
      kit.waitForValue(accountant, "totals", "all", 42L);
      kit.waitForKeyExists(archivist, "orders", "o2");
      kit.waitForAllClients();
      assertEquals(List.of("o1", "o2"), accountant.query(tx -> tx.table("entries").keys()), "each credit applied once");
      assertEquals(42L, accountant.query(tx -> tx.table("totals").get("all", Long.class)).orElseThrow());
      assertEquals(List.of("o1", "o2"), archivist.query(tx -> tx.table("orders").keys()));
    }
  }

  @Test
  void callsToAnAppThatDoesNotAcceptThemAreRefused() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(SHOP, LEDGER)) {
      SyncClient buyer = kit.createClient("alice");
      ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
          () -> buyer.action("checkout", new Credit("o1", 30)).get(20, TimeUnit.SECONDS));
      SyncException refused = (SyncException) e.getCause();
      assertEquals(ErrorCode.CALL_NOT_ALLOWED, refused.code());
      assertTrue(refused.getMessage().contains("synced-store.actions.external-calls.ledger"), refused.getMessage());
      SyncClient accountant = kit.createClient("bob", b -> b.app(LEDGER).instanceId("main"));
      kit.waitForAllClients();
      boolean none = accountant.query(tx -> tx.table("entries").keys().isEmpty());
      assertTrue(none, "nothing applied");
    }
  }
}
