package io.syncedstore.client;

import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.Table;

/** An app for client tests; the server and the clients run the same definition. */
public final class TestApp {
  private TestApp() {}

  /**
   * Input of {@code add}.
   *
   * @param key the counter
   * @param amount what to add
   */
  public record Add(String key, long amount) {}

  /**
   * Input of {@code note}, {@code draft} (the caller's private notes), {@code serverRejects} and {@code alwaysFails}.
   *
   * @param key the note's key
   * @param text its text
   */
  public record Note(String key, String text) {}

  /** The definition. */
  public static final AppDefinition DEFINITION = AppDefinition.builder("clienttest").schemaVersion(1)
      .table("counters", Long.class)
      .table("notes", String.class)
      .mutator("add", Add.class, (ctx, in) -> {
        Table counters = ctx.table("counters");
        counters.set(in.key(), counters.get(in.key(), Long.class).orElse(0L) + in.amount());
      })
      .mutator("note", Note.class, (ctx, in) -> ctx.table("notes").set(in.key(), in.text()))
      .mutator("draft", Note.class, (ctx, in) -> ctx.privateOfUser(ctx.userId().orElseThrow(
          () -> new IllegalStateException("drafts need a signed-in user"))).table("notes").set(in.key(), in.text()))
      .mutator("serverRejects", Note.class, (ctx, in) -> {
        ctx.table("notes").set(in.key(), in.text());
        if (ctx.isServer()) {
          throw new IllegalStateException("rejected by the server");
        }
      })
      .mutator("alwaysFails", Note.class, (ctx, in) -> {
        if (in.text().isEmpty()) {
          throw new IllegalArgumentException("text must not be empty");
        }
        ctx.table("notes").set(in.key(), in.text());
      })
      .build();
}
