package io.syncedstore.client.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.Activity;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.Json;
import io.syncedstore.client.SyncClient;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** notifyActivity: unread counts and previews per recipient, push requests to the sink, never the caller unless asked. */
class ActivityTest {
  /**
   * Input of {@code send}.
   *
   * @param id the message id
   * @param text its text
   * @param to the recipients
   * @param push whether to push
   * @param includeCaller whether the sender is notified too
   */
  record Send(String id, String text, List<String> to, boolean push, boolean includeCaller) {}

  static final AppDefinition CHAT = AppDefinition.builder("chat").schemaVersion(1)
      .table("messages", String.class)
      .mutator("send", Send.class, (ctx, in) -> {
        ctx.table("messages").set(in.id(), in.text());
        String from = ctx.userId().orElse("someone");
        ctx.notifyActivity(new Activity(from + ": " + in.text(), ctx.timestamp(), true, in.to(),
            in.push() ? new Activity.Push("Message from " + from, in.text()) : null, in.includeCaller()));
      })
      .build();

  private static Optional<Activity.State> activity(SyncClient c, String user) {
    return c.query(tx -> tx.privateOfUser(user).table(Activity.TABLE).get(Activity.KEY, Activity.State.class));
  }

  @Test
  void recipientsGetPreviewsAndUnreadCountsAndPushesAndTheCallerDoesNot() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(CHAT)) {
      List<JsonNode> pushes = new CopyOnWriteArrayList<>();
      kit.registerService("notify.push", call -> {
        pushes.add(call.input());
        return Json.mapper().createObjectNode();
      });
      SyncClient alice = kit.createClient("alice");
      SyncClient bob = kit.createClient("bob");
      SyncClient carol = kit.createClient("carol");
      kit.waitForAllClients();

      alice.mutate("send", new Send("m1", "lunch?", List.of("alice", "bob", "carol"), true, false));
      alice.mutate("send", new Send("m2", "at noon", List.of("alice", "bob", "carol"), false, false));
      kit.waitForAllClients();
      assertEquals(Optional.of(new Activity.State("alice: at noon", activity(bob, "bob").orElseThrow().previewTimestamp(), 2)),
          activity(bob, "bob"));
      assertEquals(2, activity(carol, "carol").orElseThrow().unreadCount());
      assertEquals(Optional.empty(), activity(alice, "alice"), "the sender is not notified of her own messages");
      boolean bobSeesCarols = bob.query(tx -> tx.privateOfUser("carol").table(Activity.TABLE).has(Activity.KEY));
      assertTrue(!bobSeesCarols, "activity rows are private to their user");

      kit.waitFor("one push request", () -> pushes.size() == 1, pushes::toString);
      JsonNode push = pushes.get(0);
      assertEquals("Message from alice", push.get("title").asText());
      assertEquals("lunch?", push.get("body").asText());
      assertEquals(List.of("bob", "carol"), Json.mapper().convertValue(push.get("recipients"), List.class), "never the caller");
      assertEquals("chat", push.get("app").asText());

      bob.mutate(Activity.MARK_READ, Map.of());
      kit.waitForAllClients();
      assertEquals(0, activity(bob, "bob").orElseThrow().unreadCount());
      assertEquals("alice: at noon", activity(bob, "bob").orElseThrow().preview());

      bob.mutate("send", new Send("m3", "yes", List.of("alice", "bob"), true, true)); // the caller asked to be included
      kit.waitForAllClients();
      kit.waitFor("the second push request", () -> pushes.size() == 2, pushes::toString);
      assertEquals(List.of("alice", "bob"), Json.mapper().convertValue(pushes.get(1).get("recipients"), List.class));
      assertEquals(1, activity(alice, "alice").orElseThrow().unreadCount());
      assertEquals(1, activity(bob, "bob").orElseThrow().unreadCount());
    }
  }

  @Test
  void clientsCannotCallTheBuiltInNotifyActionThemselves() throws Exception {
    try (SyncTestKit kit = SyncTestKit.start(CHAT)) {
      List<JsonNode> pushes = new CopyOnWriteArrayList<>();
      kit.registerService("notify.push", call -> {
        pushes.add(call.input());
        return Json.mapper().createObjectNode();
      });
      SyncClient mallory = kit.createClient("mallory");
      var e = org.junit.jupiter.api.Assertions.assertThrows(java.util.concurrent.ExecutionException.class, () -> mallory.action(
          Activity.NOTIFY_ACTION, new Activity.PushRequest("spam", "spam", List.of("alice"))).get(20, java.util.concurrent.TimeUnit.SECONDS));
      assertEquals(io.syncedstore.api.ErrorCode.UNKNOWN_ACTION, ((io.syncedstore.api.SyncException) e.getCause()).code());
      mallory.mutate("send", new Send("m1", "hi", List.of("alice"), false, false));
      kit.waitForActions();
      assertTrue(pushes.isEmpty(), "nothing pushed: " + pushes);
    }
  }
}
