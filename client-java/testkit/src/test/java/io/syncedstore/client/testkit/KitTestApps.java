package io.syncedstore.client.testkit;

import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.Entry;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.ScanOptions;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.Table;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The apps of the kit's own tests. */
final class KitTestApps {
  private KitTestApps() {}

  // ---- mutator rules: a toggle versus an explicit value ----------------------------------

  /**
   * A todo of {@link #TOGGLE_TODO}.
   *
   * @param id its id, also the item key
   * @param done whether it is done
   */
  record Todo(String id, boolean done) {}

  /** Input of {@code toggleDone}: flips {@code done} to whatever it is not on the state the mutator runs on. */
  record ToggleDone(String id) {}

  /** Input of {@code setDone}: the value the user meant, creating the todo when it is absent. */
  record SetDone(String id, boolean done) {}

  /**
   * Table {@code todos} with two ways of checking a todo: {@code toggleDone({id})}, the hazard
   * (its meaning depends on the state it is rebased onto), and {@code setDone({id, done})}, the
   * rule (it carries the user's intent).
   */
  static final AppDefinition TOGGLE_TODO = AppDefinition.builder("kit-toggle-todo").schemaVersion(1)
      .table("todos", Todo.class)
      .mutator("toggleDone", ToggleDone.class, (ctx, in) -> {
        Table todos = ctx.table("todos");
        Todo t = todos.get(in.id(), Todo.class)
            .orElseThrow(() -> new SyncException(ErrorCode.MUTATOR_FAILED, "no todo " + in.id()));
        todos.set(in.id(), new Todo(in.id(), !t.done()));
      })
      .mutator("setDone", SetDone.class, (ctx, in) -> ctx.table("todos").set(in.id(), new Todo(in.id(), in.done())))
      .build();

  // ---- submit then reveal ----------------------------------------------------------------

  /** A round: how many players must submit before the answers are revealed. */
  record Round(String round, int players) {}

  /** Input of {@code startRound}. */
  record StartRound(String round, int players) {}

  /** Input of {@code submit}. */
  record Submit(String round, String player, String answer) {}

  /** A secret answer, kept in the server-only tier. */
  record Answer(String round, String player, String answer) {}

  /** The public trace of a submission (who has answered, not what). */
  record Submitted(String round, String player) {}

  /**
   * The reveal of a round.
   *
   * @param round the round
   * @param answers every player's answer, by player
   * @param revealedBy the player whose submission (the last one the server applied) revealed
   */
  record Reveal(String round, Map<String, String> answers, String revealedBy) {}

  /** @return the item key of {@code player}'s answer and submission in {@code round} */
  static String answerKey(String round, String player) {
    return round + "/" + player;
  }

  /**
   * Players submit secret answers; the last submission the server applies reveals them all.
   * Tables: {@code rounds} (public, key round), {@code answers} (used in the server-only tier,
   * key round/player), {@code submitted} (public, key round/player), {@code reveals} (public,
   * key round). Clients never see {@code answers}, so only the server's run of the last
   * submitter's {@code submit} can write the reveal.
   */
  static final AppDefinition SUBMIT_REVEAL = AppDefinition.builder("kit-submit-reveal").schemaVersion(1)
      .table("rounds", Round.class)
      .table("answers", Answer.class)
      .table("submitted", Submitted.class)
      .table("reveals", Reveal.class)
      .mutator("startRound", StartRound.class, (ctx, in) -> {
        if (in.players() < 1) {
          throw new SyncException(ErrorCode.MUTATOR_FAILED, "a round needs players, got " + in.players());
        }
        ctx.table("rounds").set(in.round(), new Round(in.round(), in.players()));
      })
      .mutator("submit", Submit.class, (ctx, in) -> {
        String key = answerKey(in.round(), in.player());
        ctx.serverOnly().table("answers").set(key, new Answer(in.round(), in.player(), in.answer()));
        ctx.table("submitted").set(key, new Submitted(in.round(), in.player()));
        if (!ctx.isServer()) {
          return; // the client sees no answers, not even this one: it cannot count
        }
        Round round = ctx.table("rounds").get(in.round(), Round.class)
            .orElseThrow(() -> new SyncException(ErrorCode.MUTATOR_FAILED, "no round " + in.round()));
        Table reveals = ctx.table("reveals");
        List<Entry> answers = ctx.serverOnly().table("answers").scan(ScanOptions.all().itemKeyPrefix(in.round() + "/"));
        if (answers.size() >= round.players() && !reveals.has(in.round())) {
          Map<String, String> all = new TreeMap<>();
          for (Entry e : answers) {
            Answer a = e.value(Answer.class);
            all.put(a.player(), a.answer());
          }
          reveals.set(in.round(), new Reveal(in.round(), all, in.player()));
        }
      })
      .build();
}
