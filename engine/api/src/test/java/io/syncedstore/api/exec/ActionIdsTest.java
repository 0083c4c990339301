package io.syncedstore.api.exec;

import static io.syncedstore.api.exec.ExecSupport.F;
import static io.syncedstore.api.exec.ExecSupport.applied;
import static io.syncedstore.api.exec.ExecSupport.failed;
import static io.syncedstore.api.exec.ExecSupport.invocation;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.Activity;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.store.EntryStore;
import io.syncedstore.api.store.Write;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The ids of enqueued and scheduled actions: the same on the client's and the server's run; checks of names and inputs. */
class ActionIdsTest {
  /**
   * Input of the action {@code work}.
   *
   * @param n a number
   */
  record Work(int n) {}

  private final AppDefinition app = AppDefinition.builder("ids")
      .table("ids", String.class)
      .mutator("many", JsonNode.class, (ctx, in) -> {
        ctx.table("ids").set("a", ctx.enqueueAction("work", new Work(1)));
        ctx.notifyActivity(new Activity("p", 1, true, List.of("bob"), new Activity.Push("t", "b"), false));
        ctx.table("ids").set("b", ctx.scheduleAction(Duration.ofMinutes(5), "work", new Work(2)));
      })
      .mutator("unknown", JsonNode.class, (ctx, in) -> ctx.enqueueAction("nope", new Work(1)))
      .mutator("badInput", JsonNode.class, (ctx, in) -> ctx.enqueueAction("work", F.objectNode().put("n", "x")))
      .action("work", Work.class, Void.class, (ctx, in) -> null)
      .build();

  private List<Write> idsWritten(boolean server) {
    return applied(new MutationExecutor(app, server).run(new EntryStore(), invocation("many", F.objectNode(), "alice"))).writes();
  }

  @Test
  void idsAreTheSameOnTheClientAndTheServer() {
    List<Write> client = idsWritten(false);
    List<Write> server = idsWritten(true);
    assertEquals(server.stream().filter(w -> w.table().equals("ids")).map(Write::value).toList(),
        client.stream().filter(w -> w.table().equals("ids")).map(Write::value).toList());
    MutationOutcome.Applied outcome = applied(new MutationExecutor(app, true).run(new EntryStore(),
        invocation("many", F.objectNode(), "alice")));
    assertEquals(List.of("work", Activity.NOTIFY_ACTION, "work"), outcome.actions().stream().map(EnqueuedAction::name).toList());
    assertTrue(outcome.actions().get(2).runAt() > System.currentTimeMillis() + 60_000, "scheduled minutes ahead");
    assertEquals(0, applied(new MutationExecutor(app, false).run(new EntryStore(), invocation("many", F.objectNode(), "alice")))
        .actions().size(), "the client enqueues nothing");
  }

  @Test
  void unknownActionsAndBadInputsFailTheMutationOnTheServer() {
    failed(new MutationExecutor(app, true).run(new EntryStore(), invocation("unknown", F.objectNode(), "alice")), ErrorCode.UNKNOWN_ACTION);
    failed(new MutationExecutor(app, true).run(new EntryStore(), invocation("badInput", F.objectNode(), "alice")), ErrorCode.INVALID_INPUT);
  }
}
