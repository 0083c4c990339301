package io.syncedstore.loadtest.cluster;

import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.AppProvider;
import io.syncedstore.api.Table;
import java.util.List;

/**
 * The oracle app of the cluster failure tests (loadtest/src/test/.../cluster): every mutation
 * appends one token of one client, and the order the instance applied them in is written down
 * with them, so a test can tell a lost, duplicated or reordered mutation from the state alone.
 *
 * <ul>
 *   <li>table {@code counters}: item key = client name, value = how many tokens of that client
 *       were applied;
 *   <li>table {@code tokens}: item key = {@code <client>/<n>} with n zero-padded to 9 digits (so key
 *       order is application order), value {@link Token};
 *   <li>{@code append({client, token})}: reads the client's counter, writes token number counter + 1
 *       and bumps the counter: O(1) per mutation however long the run.
 * </ul>
 *
 * <p>Listed in {@code META-INF/services/io.syncedstore.api.AppProvider}, so a server started with
 * this module's classes on its class path serves it (the example apps as well).
 */
public final class OracleApp implements AppProvider {
  /** The app's name. */
  public static final String NAME = "oracle";

  /**
   * One applied token.
   *
   * @param client the client that issued it
   * @param n its position among that client's applied tokens, from 1
   * @param token the token, unique per client
   */
  public record Token(String client, long n, String token) {}

  /**
   * Input of {@code append}.
   *
   * @param client the issuing client's name
   * @param token a token the client never issued before
   */
  public record Append(String client, String token) {}

  /** The app definition. */
  public static final AppDefinition DEFINITION = AppDefinition.builder(NAME).schemaVersion(1)
      .table("counters", Long.class)
      .table("tokens", Token.class)
      .mutator("append", Append.class, (ctx, in) -> {
        Table counters = ctx.table("counters");
        long n = counters.get(in.client(), Long.class).orElse(0L) + 1;
        ctx.table("tokens").set(key(in.client(), n), new Token(in.client(), n, in.token()));
        counters.set(in.client(), n);
      })
      .build();

  /**
   * @param client a client name
   * @param n a token number
   * @return the item key of that client's n-th token
   */
  public static String key(String client, long n) {
    return client + "/" + String.format("%09d", n);
  }

  @Override
  public List<AppDefinition> apps() {
    return List.of(DEFINITION);
  }
}
