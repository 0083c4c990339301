package io.syncedstore.api.exec;

import static io.syncedstore.api.exec.ExecSupport.F;
import static io.syncedstore.api.exec.ExecSupport.apply;
import static io.syncedstore.api.exec.ExecSupport.applied;
import static io.syncedstore.api.exec.ExecSupport.failed;
import static io.syncedstore.api.exec.ExecSupport.invocation;
import static io.syncedstore.api.exec.ExecSupport.snapshot;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.Entry;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.MutationContext;
import io.syncedstore.api.ReadTable;
import io.syncedstore.api.ScanOptions;
import io.syncedstore.api.Tier;
import io.syncedstore.api.store.EntryStore;
import io.syncedstore.api.store.TableAddress;
import io.syncedstore.api.store.Write;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Tiers through {@link MutationExecutor}: public reads never show private or server-only rows,
 * a private tier shows only its owner's rows, writes to another user's private tier fail, and
 * the client neither reads nor writes the server-only tier.
 */
class TierIsolationTest {
  /** What the "probe" mutator runs; set by each test. */
  private final AtomicReference<Consumer<MutationContext>> probe = new AtomicReference<>(ctx -> { });
  private final AtomicInteger probes = new AtomicInteger();
  private AppDefinition app;
  private MutationExecutor server;
  private MutationExecutor client;
  private EntryStore store;

  /** Input of "writeOther". */
  record Other(String other, boolean delete) {}

  @BeforeEach
  void setUp() {
    app = AppDefinition.builder("tiers")
        .table("notes", JsonNode.class)
        .table("empty", JsonNode.class)
        // writes the same item key "shared" to every tier, and one key that exists only in each tier
        .mutator("seed", JsonNode.class, (ctx, in) -> {
          String u = ctx.userId().orElseThrow();
          ctx.table("notes").set("shared", "p", F.objectNode().put("tier", "public"));
          ctx.table("notes").set("pub-only", F.objectNode().put("tier", "public"));
          ctx.privateOfUser(u).table("notes").set("shared", "p", F.objectNode().put("tier", "private-" + u));
          ctx.privateOfUser(u).table("notes").set(u + "-only", F.objectNode().put("tier", "private-" + u));
          ctx.serverOnly().table("notes").set("shared", "p", F.objectNode().put("tier", "server"));
          ctx.serverOnly().table("notes").set("srv-only", F.objectNode().put("tier", "server"));
          if (in.path("probe").asBoolean()) {
            probes.incrementAndGet();
            probe.get().accept(ctx);
          }
        })
        .mutator("probe", JsonNode.class, (ctx, in) -> {
          probes.incrementAndGet();
          probe.get().accept(ctx);
        })
        .mutator("writeOther", Other.class, (ctx, in) -> {
          ctx.table("notes").set("written-before", F.textNode("x"));
          if (in.delete()) {
            ctx.privateOfUser(in.other()).table("notes").delete("shared");
          } else {
            ctx.privateOfUser(in.other()).table("notes").set("intruder", F.textNode("x"));
          }
        })
        .build();
    server = new MutationExecutor(app, true);
    client = new MutationExecutor(app, false);
    store = new EntryStore();
  }

  private void seedOnServer(String... users) {
    long version = 1;
    for (String u : users) {
      MutationOutcome outcome = server.run(store, invocation("seed", F.objectNode(), u));
      apply(store, outcome, version++);
    }
  }

  private MutationOutcome runProbe(MutationExecutor executor, String userId, Consumer<MutationContext> check) {
    probe.set(check);
    int before = probes.get();
    MutationOutcome outcome = executor.run(store, invocation("probe", F.objectNode(), userId));
    assertEquals(before + 1, probes.get(), "the probe did not run: " + outcome);
    return outcome;
  }

  private static List<String> tiersOf(ReadTable t) {
    return t.values().stream().map(v -> v.get("tier").asText()).distinct().toList();
  }

  private static void checkServerView(MutationContext ctx, String... users) {
    ReadTable pub = ctx.table("notes");
    // "pub-only" has no sort key, so it comes before "shared" (sort key "p")
    assertEquals(List.of("pub-only", "shared"), pub.keys());
    assertEquals(List.of("public"), tiersOf(pub));
    assertEquals(Optional.of(F.objectNode().put("tier", "public")), pub.get("shared"));
    assertTrue(pub.has("shared"));
    assertTrue(pub.has("pub-only"));
    assertFalse(pub.has("srv-only"));
    assertTrue(pub.get("srv-only").isEmpty());
    for (String u : users) {
      assertFalse(pub.has(u + "-only"), u);
      assertTrue(pub.get(u + "-only").isEmpty(), u);
    }
    for (Entry e : pub.entries()) {
      assertEquals("public", e.value().get("tier").asText(), e.toString());
    }
    assertEquals(List.of("shared"), pub.scan(ScanOptions.all().sortKeyPrefix("p")).stream().map(Entry::itemKey).toList());
    assertEquals(List.of("shared"), pub.scan(ScanOptions.all().reverse().limit(1)).stream().map(Entry::itemKey).toList());
    assertTrue(pub.scan(ScanOptions.all().itemKeyPrefix("u")).isEmpty());
    assertTrue(pub.scan(ScanOptions.all().itemKeyPrefix("srv")).isEmpty());

    for (String u : users) {
      ReadTable mine = ctx.privateOfUser(u).table("notes");
      assertEquals(List.of(u + "-only", "shared"), mine.keys(), u);
      assertEquals(List.of("private-" + u), tiersOf(mine), u);
      assertEquals("private-" + u, mine.get("shared").orElseThrow().get("tier").asText());
      assertFalse(mine.has("pub-only"), u);
      assertFalse(mine.has("srv-only"), u);
      for (String other : users) {
        if (!other.equals(u)) {
          assertFalse(mine.has(other + "-only"), u + " sees " + other);
        }
      }
      assertEquals(List.of("shared"), mine.scan(ScanOptions.all().sortKeyPrefix("p")).stream().map(Entry::itemKey).toList());
    }
    assertTrue(ctx.privateOfUser("nobody").table("notes").entries().isEmpty());
    assertFalse(ctx.privateOfUser("nobody").table("notes").has("shared"));

    ReadTable srv = ctx.serverOnly().table("notes");
    assertEquals(List.of("srv-only", "shared"), srv.keys());
    assertEquals(List.of("server"), tiersOf(srv));
    assertEquals("server", srv.get("shared").orElseThrow().get("tier").asText());
    assertFalse(srv.has("pub-only"));
    for (String u : users) {
      assertFalse(srv.has(u + "-only"));
    }
    assertTrue(ctx.table("empty").entries().isEmpty());
  }

  @Test
  void seedWritesEachRowToItsOwnTier() {
    MutationOutcome outcome = server.run(store, invocation("seed", F.objectNode(), "u1"));
    Set<String> addresses = applied(outcome).writes().stream()
        .map(w -> w.tier() + "/" + w.owner() + "/" + w.itemKey()).collect(Collectors.toSet());
    assertEquals(Set.of("PUBLIC/null/shared", "PUBLIC/null/pub-only", "PRIVATE/u1/shared", "PRIVATE/u1/u1-only",
        "SERVER_ONLY/null/shared", "SERVER_ONLY/null/srv-only"), addresses);
  }

  @Test
  void serverReadsOfTheStoreAreIsolatedByTier() {
    seedOnServer("u1", "u2");
    // the caller (u1) may read u2's private tier on the server, but the public table shows neither
    MutationOutcome outcome = runProbe(server, "u1", ctx -> checkServerView(ctx, "u1", "u2"));
    assertTrue(applied(outcome).writes().isEmpty());
    runProbe(server, null, ctx -> checkServerView(ctx, "u1", "u2"));
  }

  @Test
  void serverReadsOfTheMutationsOwnWritesAreIsolatedByTier() {
    seedOnServer("u2");
    // u1's rows exist only in the overlay of this mutation
    probe.set(ctx -> checkServerView(ctx, "u1", "u2"));
    MutationOutcome outcome = server.run(store, invocation("seed", F.objectNode().put("probe", true), "u1"));
    applied(outcome);
    assertEquals(1, probes.get());
  }

  @Test
  void writingAnotherUsersPrivateTierFailsAndWritesNothing() {
    seedOnServer("u1", "u2");
    Set<Object> before = snapshot(store);
    for (MutationExecutor executor : List.of(server, client)) {
      for (boolean delete : new boolean[] {false, true}) {
        MutationOutcome.Failed f = failed(executor.run(store,
            invocation("writeOther", F.objectNode().put("other", "u2").put("delete", delete), "u1")), ErrorCode.TIER_VIOLATION);
        assertTrue(f.message().contains("u2"), f.message());
        // an anonymous client has no private tier to write at all
        failed(executor.run(store, invocation("writeOther", F.objectNode().put("other", "u1").put("delete", delete), null)),
            ErrorCode.TIER_VIOLATION);
        failed(executor.run(store, invocation("writeOther", F.objectNode().put("other", "").put("delete", delete), null)),
            ErrorCode.TIER_VIOLATION);
      }
    }
    assertEquals(before, snapshot(store));
    assertTrue(store.getWithTombstone(TableAddress.privateTable("u2", "notes"), "intruder") == null);
    // writing one's own private tier is fine
    MutationOutcome ok = server.run(store, invocation("writeOther", F.objectNode().put("other", "u1").put("delete", false), "u1"));
    assertEquals(List.of(TableAddress.publicTable("notes"), TableAddress.privateTable("u1", "notes")),
        applied(ok).writes().stream().map(Write::address).toList());
  }

  @Test
  void clientNeitherReadsNorWritesTheServerOnlyTier() {
    seedOnServer("u1");
    MutationOutcome outcome = runProbe(client, "u1", ctx -> {
      assertFalse(ctx.isServer());
      ReadTable srv = ctx.serverOnly().table("notes");
      assertTrue(srv.get("shared").isEmpty());
      assertTrue(srv.get("shared", JsonNode.class).isEmpty());
      assertFalse(srv.has("srv-only"));
      assertTrue(srv.entries().isEmpty());
      assertTrue(srv.keys().isEmpty());
      assertTrue(srv.values().isEmpty());
      assertTrue(srv.scan(ScanOptions.all().cursorAtEnd().reverse()).isEmpty());

      ctx.serverOnly().table("notes").set("new-srv", F.textNode("x"));
      ctx.serverOnly().table("notes").set("shared", "q", F.textNode("x"));
      ctx.serverOnly().table("notes").delete("srv-only");
      // dropped at once: not even this mutation reads them back
      assertTrue(ctx.serverOnly().table("notes").get("new-srv").isEmpty());
      assertTrue(ctx.serverOnly().table("notes").entries().isEmpty());

      // the other tiers behave normally on the client
      ctx.table("notes").set("client-pub", F.textNode("x"));
      ctx.privateOfUser("u1").table("notes").set("client-priv", F.textNode("x"));
      assertTrue(ctx.table("notes").has("client-pub"));
      assertEquals(List.of("client-priv", "u1-only", "shared"), ctx.privateOfUser("u1").table("notes").keys());
      assertFalse(ctx.table("notes").has("client-priv"));
    });
    List<Write> writes = applied(outcome).writes();
    assertEquals(List.of("client-pub", "client-priv"), writes.stream().map(Write::itemKey).toList());
    assertTrue(writes.stream().noneMatch(w -> w.tier() == Tier.SERVER_ONLY), writes.toString());

    // the same mutation on the server keeps the server-only writes
    probe.set(ctx -> {
      ctx.serverOnly().table("notes").set("new-srv", F.textNode("x"));
      assertTrue(ctx.serverOnly().table("notes").has("new-srv"));
    });
    MutationOutcome onServer = server.run(store, invocation("probe", F.objectNode(), "u1"));
    assertEquals(List.of(Write.put(TableAddress.serverOnlyTable("notes"), "new-srv", "", F.textNode("x"))), applied(onServer).writes());
  }
}
