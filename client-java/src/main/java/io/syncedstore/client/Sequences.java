package io.syncedstore.client;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.BiConsumer;

/**
 * Human-readable counters such as {@code order-0001}, {@code order-0002} or
 * {@code INV-20261124-001}, made on this device without asking the server.
 *
 * <p><b>Device-local, not globally unique.</b> Each device counts on its own: two devices can
 * both hand out {@code order-0001}. Put {@code {node4}} or {@code {node8}} in the format (for
 * example {@code "order-{node4}-{seq:4}"}) to make the values of different devices distinct.
 * Numbers that must be unique and gap-free across all devices have to be assigned on the
 * server, in a mutator's server pass: {@code if (ctx.isServer()) { ... }} read a counter row in a
 * server-only table ({@code ctx.serverOnly().table(...)}), increment it and write it back, then
 * store the number in the row it numbers. The client's optimistic pass cannot see server-only
 * tables, so the client shows a provisional value (for example one from this class, or
 * "pending") until the poke carrying the server's number arrives.
 *
 * <p><b>Formats.</b> Literal text with these placeholders:
 *
 * <ul>
 *   <li>{@code {seq}}: the counter, without padding;
 *   <li>{@code {seq:N}}: the counter zero-padded to at least N digits (N from 1 to 19); a larger
 *       counter is written in full, so {@code 10000} with {@code {seq:4}} is {@code 10000};
 *   <li>{@code {date}}: the current UTC date of the clock as {@code yyyyMMdd};
 *   <li>{@code {node4}}, {@code {node8}}: the first 4 or 8 characters of this device's node id,
 *       uppercase Crockford base32 of a SHA-256 hash of the client id, stable for a client id;
 *   <li><code>&#123;&#123;</code> and <code>&#125;&#125;</code>: a literal <code>&#123;</code>
 *       and <code>&#125;</code>.
 * </ul>
 *
 * A format must contain {@code {seq}} or {@code {seq:N}}. A sequence that was never
 * {@linkplain #define(String, String) defined} uses {@code name + "-{seq:4}"} with scope
 * {@link SequenceScope#GLOBAL}.
 *
 * <p><b>Scopes.</b> A sequence's counter is kept per scope value and starts at 1 for each:
 *
 * <ul>
 *   <li>{@link SequenceScope#GLOBAL}, no key: one counter;
 *   <li>{@link SequenceScope#DAILY}, no key: one counter per UTC date;
 *   <li>{@link SequenceScope#GLOBAL} with a key ({@link #next(String, String)}): one counter per
 *       key, for example per room;
 *   <li>{@link SequenceScope#DAILY} with a key: one counter per (UTC date, key).
 * </ul>
 *
 * {@code next(name)} and {@code next(name, key)} never share a counter. The date that selects a
 * DAILY counter is the same one written by {@code {date}} in that value, so the two agree even at
 * midnight. A DAILY format without {@code {date}} repeats its values from day to day.
 *
 * <p><b>Persistence.</b> Only counters are persisted; definitions are not, so an app defines its
 * sequences at every start. Each counter has an opaque string key, and its value is the last
 * number handed out. The {@code persist} callback receives {@code (counterKey, newValue)} before
 * {@code next} returns; if it throws, {@code next} throws the same exception and the counter stays
 * where it was. A new instance given the persisted map continues after the last value handed
 * out, so values never repeat across restarts (as long as the storage kept what was persisted).
 *
 * <p>Redefining a sequence replaces its format and scope and keeps its counters. Thread-safe; the
 * callback runs while this object's lock is held, so calls to it are never concurrent and come in
 * the order the values were handed out.
 */
public final class Sequences {
  private static final char[] CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ".toCharArray();
  private static final int MAX_DIGITS = 19; // Long.MAX_VALUE has 19 digits
  /** Separates the parts of a counter key; not allowed in sequence names. */
  private static final char SEPARATOR = '\u0000';

  private final Clock clock;
  private final String nodeId;
  private final BiConsumer<String, Long> persist;
  private final Map<String, Long> counters;
  private final Map<String, Definition> definitions = new HashMap<>();

  /**
   * @param clock the clock that gives {@code {date}} and the DAILY scope (its UTC date)
   * @param clientId the id of this client, from which the node id for {@code {node4}} and
   *     {@code {node8}} is derived
   * @param initialCounters the counters persisted earlier (counter key to last value handed out);
   *     empty for a new device
   * @param persist called with {@code (counterKey, newValue)} each time a counter advances,
   *     before the value is handed out; it must store the value before returning
   */
  public Sequences(Clock clock, String clientId, Map<String, Long> initialCounters, BiConsumer<String, Long> persist) {
    this.clock = Objects.requireNonNull(clock, "clock");
    this.nodeId = nodeId(Objects.requireNonNull(clientId, "clientId"));
    this.counters = new HashMap<>(Objects.requireNonNull(initialCounters, "initialCounters"));
    this.persist = Objects.requireNonNull(persist, "persist");
    counters.forEach((key, value) -> Objects.requireNonNull(value, () -> "null counter for key " + printable(key)));
  }

  /**
   * Defines (or redefines) a sequence with scope {@link SequenceScope#GLOBAL}.
   *
   * @param name the sequence's name: not empty, without the NUL character
   * @param format the format, see the class documentation
   * @throws IllegalArgumentException if the name or the format is invalid
   */
  public void define(String name, String format) {
    define(name, format, SequenceScope.GLOBAL);
  }

  /**
   * Defines (or redefines) a sequence. Its counters are kept.
   *
   * @param name the sequence's name: not empty, without the NUL character
   * @param format the format, see the class documentation
   * @param scope when the counter restarts at 1
   * @throws IllegalArgumentException if the name or the format is invalid
   */
  public void define(String name, String format, SequenceScope scope) {
    checkName(name);
    Definition definition = new Definition(parse(Objects.requireNonNull(format, "format")), Objects.requireNonNull(scope, "scope"));
    synchronized (this) {
      definitions.put(name, definition);
    }
  }

  /**
   * Advances the sequence's counter (without a scope key) and formats the new value.
   *
   * @param name the sequence's name
   * @return the formatted value, for example {@code order-0001}
   * @throws IllegalArgumentException if the name is invalid
   * @throws RuntimeException whatever the persist callback threw; the counter did not advance
   */
  public String next(String name) {
    return nextValue(name, null).formatted;
  }

  /**
   * Advances the sequence's counter for a scope key and formats the new value.
   *
   * @param name the sequence's name
   * @param scopeKey the key whose counter advances (for example a room id): not empty
   * @return the formatted value
   * @throws IllegalArgumentException if the name or the key is invalid
   * @throws RuntimeException whatever the persist callback threw; the counter did not advance
   */
  public String next(String name, String scopeKey) {
    return nextValue(name, checkKey(scopeKey)).formatted;
  }

  /**
   * Advances the sequence's counter (without a scope key), the same counter {@link #next(String)}
   * advances, and returns the new number unformatted.
   *
   * @param name the sequence's name
   * @return the new counter value, 1 for the first
   * @throws IllegalArgumentException if the name is invalid
   * @throws RuntimeException whatever the persist callback threw; the counter did not advance
   */
  public long nextNumber(String name) {
    return nextValue(name, null).number;
  }

  /**
   * Advances the sequence's counter for a scope key, the same counter
   * {@link #next(String, String)} advances, and returns the new number unformatted.
   *
   * @param name the sequence's name
   * @param scopeKey the key whose counter advances: not empty
   * @return the new counter value, 1 for the first
   * @throws IllegalArgumentException if the name or the key is invalid
   * @throws RuntimeException whatever the persist callback threw; the counter did not advance
   */
  public long nextNumber(String name, String scopeKey) {
    return nextValue(name, checkKey(scopeKey)).number;
  }

  /** @return this device's node id: 8 uppercase Crockford base32 characters, stable for the client id */
  public String nodeId() {
    return nodeId;
  }

  private synchronized Value nextValue(String name, String scopeKey) {
    checkName(name);
    Definition definition = definitions.computeIfAbsent(name, n -> new Definition(parse(n.replace("{", "{{").replace("}", "}}") + "-{seq:4}"), SequenceScope.GLOBAL));
    String date = date(); // read once: the DAILY counter and {date} must name the same day
    String counterKey = name + SEPARATOR + (definition.scope == SequenceScope.DAILY ? date : "") + SEPARATOR
        + (scopeKey == null ? "" : scopeKey);
    long next = Math.addExact(counters.getOrDefault(counterKey, 0L), 1);
    persist.accept(counterKey, next); // before the counter moves: if this throws, nothing changed
    counters.put(counterKey, next);
    return new Value(next, definition.format(next, date, nodeId));
  }

  private String date() {
    LocalDate day = LocalDate.ofInstant(clock.instant(), ZoneOffset.UTC);
    return String.format(java.util.Locale.ROOT, "%04d%02d%02d", day.getYear(), day.getMonthValue(), day.getDayOfMonth());
  }

  private static void checkName(String name) {
    Objects.requireNonNull(name, "name");
    if (name.isEmpty() || name.indexOf(SEPARATOR) >= 0) {
      throw new IllegalArgumentException("sequence name must be non-empty and contain no NUL character: " + printable(name));
    }
  }

  private static String checkKey(String scopeKey) {
    Objects.requireNonNull(scopeKey, "scopeKey");
    if (scopeKey.isEmpty()) {
      throw new IllegalArgumentException("scope key must not be empty (use next(name) for no key)");
    }
    return scopeKey;
  }

  private static String printable(String s) {
    return "\"" + s.replace("\u0000", "\\0") + "\"";
  }

  /** Parses a format into its parts; the placeholders are checked here, not at {@code next}. */
  private static List<Part> parse(String format) {
    List<Part> parts = new ArrayList<>();
    StringBuilder literal = new StringBuilder();
    boolean hasSeq = false;
    int i = 0;
    while (i < format.length()) {
      char c = format.charAt(i);
      if (c == '}') {
        if (i + 1 < format.length() && format.charAt(i + 1) == '}') {
          literal.append('}');
          i += 2;
          continue;
        }
        throw new IllegalArgumentException("unmatched '}' at index " + i + " in format \"" + format + "\" (write '}}' for a literal '}')");
      }
      if (c != '{') {
        literal.append(c);
        i++;
        continue;
      }
      if (i + 1 < format.length() && format.charAt(i + 1) == '{') {
        literal.append('{');
        i += 2;
        continue;
      }
      int end = format.indexOf('}', i);
      if (end < 0) {
        throw new IllegalArgumentException("unclosed '{' at index " + i + " in format \"" + format + "\" (write '{{' for a literal '{')");
      }
      if (!literal.isEmpty()) {
        parts.add(new Literal(literal.toString()));
        literal.setLength(0);
      }
      Part placeholder = placeholder(format.substring(i + 1, end), format);
      hasSeq |= placeholder instanceof Seq;
      parts.add(placeholder);
      i = end + 1;
    }
    if (!literal.isEmpty()) {
      parts.add(new Literal(literal.toString()));
    }
    if (!hasSeq) {
      throw new IllegalArgumentException("format \"" + format + "\" has no {seq} or {seq:N} placeholder, so all its values would be equal");
    }
    return List.copyOf(parts);
  }

  private static Part placeholder(String inside, String format) {
    switch (inside) {
      case "seq":
        return new Seq(1);
      case "date":
        return new Date();
      case "node4":
        return new Node(4);
      case "node8":
        return new Node(8);
      default:
        break;
    }
    if (inside.startsWith("seq:")) {
      String digits = inside.substring(4);
      int n = digits.matches("[0-9]{1,3}") ? Integer.parseInt(digits) : -1;
      if (n < 1 || n > MAX_DIGITS) {
        throw new IllegalArgumentException("bad width \"" + digits + "\" in {" + inside + "} in format \"" + format
            + "\": N in {seq:N} must be a number from 1 to " + MAX_DIGITS);
      }
      return new Seq(n);
    }
    throw new IllegalArgumentException("unknown placeholder {" + inside + "} in format \"" + format
        + "\" (known: {seq}, {seq:N}, {date}, {node4}, {node8})");
  }

  /** The node id: the first 40 bits of SHA-256 of the client id as 8 Crockford base32 characters. */
  private static String nodeId(String clientId) {
    byte[] hash;
    try {
      hash = MessageDigest.getInstance("SHA-256").digest(clientId.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
    long bits = 0;
    for (int i = 0; i < 5; i++) {
      bits = (bits << 8) | (hash[i] & 0xFF);
    }
    char[] out = new char[8];
    for (int i = 7; i >= 0; i--) {
      out[i] = CROCKFORD[(int) (bits & 31)];
      bits >>>= 5;
    }
    return new String(out);
  }

  /** One piece of a parsed format. */
  private sealed interface Part permits Literal, Seq, Date, Node {}

  /** Text copied as it is. */
  private record Literal(String text) implements Part {}

  /** The counter, zero-padded to at least {@code width} digits. */
  private record Seq(int width) implements Part {}

  /** The UTC date as yyyyMMdd. */
  private record Date() implements Part {}

  /** The first {@code length} characters of the node id. */
  private record Node(int length) implements Part {}

  /** A sequence's parsed format and scope. */
  private record Definition(List<Part> parts, SequenceScope scope) {
    String format(long number, String date, String nodeId) {
      StringBuilder out = new StringBuilder();
      for (Part part : parts) {
        if (part instanceof Literal literal) {
          out.append(literal.text());
        } else if (part instanceof Seq seq) {
          String digits = Long.toString(number);
          out.append("0".repeat(Math.max(0, seq.width() - digits.length()))).append(digits);
        } else if (part instanceof Date) {
          out.append(date);
        } else if (part instanceof Node node) {
          out.append(nodeId, 0, node.length());
        }
      }
      return out.toString();
    }
  }

  private record Value(long number, String formatted) {}
}
