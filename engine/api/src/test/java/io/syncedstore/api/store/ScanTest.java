package io.syncedstore.api.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.syncedstore.api.EntryKey;
import io.syncedstore.api.ScanOptions;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Scan semantics ({@link Scans}) over an {@link EntryStore} and over {@link Overlay}s, checked
 * against a brute-force reference that filters a sorted list.
 */
class ScanTest {
  private static final TableAddress TABLE = TableAddress.publicTable("items");
  private static final TableAddress OTHER = TableAddress.publicTable("other");
  private static final JsonNodeFactory F = JsonNodeFactory.instance;

  /** Sort keys: unused (""), shared prefixes of different lengths, and chars at the top of the range. */
  private static final String[] SORT_KEYS = {
      "", "", "", "a", "a", "ab", "abc", "abd", "b", "b/1", "b/10", "b/2",
      "2024-01-01", "2024-01-02", "2024-02-01", "2024-12-31",
      "z\uFFFF", "z\uFFFF\uFFFF", "z\uFFFFa", "\uFFFF", "\uFFFF\uFFFF"};
  private static final String[] ITEM_PREFIXES = {"u/", "u/1", "m/", "mx", "x", "", "\uFFFF"};
  /** Prefixes to scan with: ones that match, ones that match nothing, the empty one, and \uFFFF edges. */
  private static final String[] SCAN_PREFIXES = {
      "", "a", "ab", "abc", "abe", "b", "b/", "b/1", "2024", "2024-01", "2024-02-01", "2025", "z", "z\uFFFF",
      "z\uFFFF\uFFFF", "\uFFFF", "\uFFFF\uFFFF", "u", "u/", "u/1", "m", "mx", "x", "q", " ", "\u0000"};

  private EntryStore store;
  /** The reference: every live entry, in key order. */
  private List<EntryKey> sorted;
  private Map<EntryKey, JsonNode> values;

  @BeforeEach
  void fill() {
    store = new EntryStore();
    TreeMap<EntryKey, JsonNode> ref = new TreeMap<>();
    Random random = new Random(42);
    long version = 0;
    Set<String> usedItemKeys = new HashSet<>();
    for (int i = 0; ref.size() < 1000; i++) {
      String itemKey = ITEM_PREFIXES[random.nextInt(ITEM_PREFIXES.length)] + i;
      if (!usedItemKeys.add(itemKey)) {
        continue; // "u/1" + "0" and "u/" + "10": item keys are unique per table
      }
      String sortKey = SORT_KEYS[random.nextInt(SORT_KEYS.length)];
      JsonNode value = F.objectNode().put("i", i).put("s", sortKey);
      store.apply(Write.put(TABLE, itemKey, sortKey, value), ++version);
      ref.put(new EntryKey(sortKey, itemKey), value);
    }
    // noise in another table and a deleted row in this one must not show up
    store.apply(Write.put(OTHER, "u/1", "a", F.textNode("other")), ++version);
    store.apply(Write.put(TABLE, "gone", "a", F.textNode("gone")), ++version);
    store.apply(Write.delete(TABLE, "gone"), ++version);
    sorted = new ArrayList<>(ref.keySet());
    values = ref;
    assertEquals(1000, sorted.size());
  }

  // ---------------------------------------------------------------- reference implementation

  /** The documented semantics, computed the slow and obvious way from the sorted list. */
  static List<EntryKey> reference(List<EntryKey> sorted, ScanOptions o) {
    List<EntryKey> candidates = new ArrayList<>();
    for (EntryKey k : sorted) {
      if (o.prefix() != null) {
        String key = o.prefixOn() == ScanOptions.PrefixOn.SORT_KEY ? k.sortKey() : k.itemKey();
        if (!key.startsWith(o.prefix())) {
          continue;
        }
      }
      if (o.isCursorAtEnd()) {
        if (!o.isReverse()) {
          continue;
        }
      } else if (o.cursor() != null) {
        int c = k.compareTo(o.cursor());
        if (o.isReverse() ? c >= 0 : c <= 0) {
          continue;
        }
      }
      candidates.add(k);
    }
    int limit = o.limit();
    if (limit < 0 || limit >= candidates.size()) {
      return candidates;
    }
    return o.isReverse()
        ? new ArrayList<>(candidates.subList(candidates.size() - limit, candidates.size()))
        : new ArrayList<>(candidates.subList(0, limit));
  }

  private static List<EntryKey> keys(List<Row> rows) {
    List<EntryKey> out = new ArrayList<>(rows.size());
    for (Row r : rows) {
      out.add(r.key());
    }
    return out;
  }

  private List<EntryKey> scan(ScanOptions o) {
    List<Row> rows = Scans.scan(store, TABLE, o);
    for (Row r : rows) {
      assertEquals(values.get(r.key()), r.value(), "value of " + r.key());
      assertFalse(r.isDeleted());
    }
    return keys(rows);
  }

  private void check(ScanOptions o) {
    List<EntryKey> expected = reference(sorted, o);
    assertEquals(expected, scan(o), o.toString());
  }

  // ---------------------------------------------------------------- fixed cases

  @Test
  void allReturnsEveryEntryInKeyOrder() {
    List<EntryKey> all = scan(ScanOptions.all());
    assertEquals(sorted, all);
    assertEquals(all, scan(ScanOptions.all().reverse()));
    assertTrue(Scans.scan(store, TableAddress.publicTable("missing"), ScanOptions.all()).isEmpty());
    assertEquals(List.of(new EntryKey("a", "u/1")), keys(Scans.scan(store, OTHER, ScanOptions.all())));
  }

  @Test
  void sortKeyPrefix() {
    for (String p : SCAN_PREFIXES) {
      ScanOptions o = ScanOptions.all().sortKeyPrefix(p);
      List<EntryKey> got = scan(o);
      for (EntryKey k : got) {
        assertTrue(k.sortKey().startsWith(p), o + " returned " + k);
      }
      check(o);
      check(o.reverse());
      check(o.limit(3));
      check(o.reverse().limit(3));
    }
    // sanity: the interesting prefixes really select something, and not everything
    int ab = reference(sorted, ScanOptions.all().sortKeyPrefix("ab")).size();
    assertTrue(ab > 0 && ab < 1000);
    assertEquals(1000, scan(ScanOptions.all().sortKeyPrefix("")).size());
    assertTrue(scan(ScanOptions.all().sortKeyPrefix("2025")).isEmpty());
    assertTrue(scan(ScanOptions.all().sortKeyPrefix("z\uFFFF")).size() > 0);
  }

  @Test
  void itemKeyPrefix() {
    for (String p : SCAN_PREFIXES) {
      ScanOptions o = ScanOptions.all().itemKeyPrefix(p);
      for (EntryKey k : scan(o)) {
        assertTrue(k.itemKey().startsWith(p), o + " returned " + k);
      }
      check(o);
      check(o.reverse());
      check(o.limit(5));
      check(o.reverse().limit(5));
    }
    int u1 = reference(sorted, ScanOptions.all().itemKeyPrefix("u/1")).size();
    assertTrue(u1 > 0 && u1 < 1000);
  }

  @Test
  void cursorOnExistingKeyIsExclusive() {
    for (int i : new int[] {0, 1, 17, 500, 998, 999}) {
      EntryKey cursor = sorted.get(i);
      List<EntryKey> forward = scan(ScanOptions.all().cursor(cursor));
      assertEquals(sorted.subList(i + 1, sorted.size()), forward, "after " + cursor);
      List<EntryKey> backward = scan(ScanOptions.all().cursor(cursor).reverse());
      assertEquals(sorted.subList(0, i), backward, "before " + cursor);
    }
  }

  @Test
  void cursorOnMissingKeyStartsAtItsPosition() {
    for (int i : new int[] {0, 3, 250, 999}) {
      EntryKey existing = sorted.get(i);
      // just after an existing key: same sort key, item key extended
      EntryKey after = new EntryKey(existing.sortKey(), existing.itemKey() + "\u0000");
      assertEquals(sorted.subList(i + 1, sorted.size()), scan(ScanOptions.all().cursor(after)));
      assertEquals(sorted.subList(0, i + 1), scan(ScanOptions.all().cursor(after).reverse()));
    }
    EntryKey beforeAll = new EntryKey("", "");
    assertEquals(sorted, scan(ScanOptions.all().cursor(beforeAll)));
    assertTrue(scan(ScanOptions.all().cursor(beforeAll).reverse()).isEmpty());
    EntryKey afterAll = new EntryKey("\uFFFF\uFFFF\uFFFF", "");
    assertTrue(scan(ScanOptions.all().cursor(afterAll)).isEmpty());
    assertEquals(sorted, scan(ScanOptions.all().cursor(afterAll).reverse()));
    // a cursor between sort keys that no entry has
    check(ScanOptions.all().cursor(new EntryKey("aa", "zzz")));
    check(ScanOptions.all().cursor(new EntryKey("aa", "zzz")).reverse().limit(4));
  }

  @Test
  void cursorCombinedWithPrefixes() {
    for (String p : SCAN_PREFIXES) {
      for (int i : new int[] {0, 100, 400, 700, 999}) {
        EntryKey cursor = sorted.get(i);
        check(ScanOptions.all().sortKeyPrefix(p).cursor(cursor));
        check(ScanOptions.all().sortKeyPrefix(p).cursor(cursor).reverse());
        check(ScanOptions.all().sortKeyPrefix(p).cursor(cursor).reverse().limit(2));
        check(ScanOptions.all().itemKeyPrefix(p).cursor(cursor).limit(2));
        check(ScanOptions.all().itemKeyPrefix(p).cursor(cursor).reverse().limit(2));
      }
    }
  }

  @Test
  void limit() {
    assertTrue(scan(ScanOptions.all().limit(0)).isEmpty());
    assertTrue(scan(ScanOptions.all().limit(0).reverse()).isEmpty());
    assertEquals(sorted.subList(0, 1), scan(ScanOptions.all().limit(1)));
    assertEquals(sorted.subList(0, 7), scan(ScanOptions.all().limit(7)));
    assertEquals(sorted, scan(ScanOptions.all().limit(1000)));
    assertEquals(sorted, scan(ScanOptions.all().limit(5000)));
    assertEquals(sorted, scan(ScanOptions.all().limit(Integer.MAX_VALUE)));
  }

  @Test
  void reverseReturnsTheLastEntriesInAscendingOrder() {
    List<EntryKey> last7 = scan(ScanOptions.all().reverse().limit(7));
    assertEquals(sorted.subList(993, 1000), last7);
    assertTrue(last7.get(0).compareTo(last7.get(6)) < 0, "ascending order");
    assertEquals(sorted.subList(999, 1000), scan(ScanOptions.all().limit(1).reverse()));
    // last 3 before a cursor
    assertEquals(sorted.subList(497, 500), scan(ScanOptions.all().cursor(sorted.get(500)).reverse().limit(3)));
    // last 3 of a sort-key range, the range being in the middle of the table
    List<EntryKey> ab = reference(sorted, ScanOptions.all().sortKeyPrefix("ab"));
    assertEquals(ab.subList(ab.size() - 3, ab.size()), scan(ScanOptions.all().sortKeyPrefix("ab").reverse().limit(3)));
  }

  @Test
  void cursorAtEnd() {
    assertTrue(scan(ScanOptions.all().cursorAtEnd()).isEmpty());
    assertTrue(scan(ScanOptions.all().cursorAtEnd().limit(10)).isEmpty());
    assertTrue(scan(ScanOptions.all().sortKeyPrefix("a").cursorAtEnd()).isEmpty());
    assertEquals(sorted, scan(ScanOptions.all().cursorAtEnd().reverse()));
    assertEquals(sorted.subList(990, 1000), scan(ScanOptions.all().cursorAtEnd().reverse().limit(10)));
    check(ScanOptions.all().sortKeyPrefix("b").cursorAtEnd().reverse().limit(4));
    check(ScanOptions.all().itemKeyPrefix("m/").cursorAtEnd().reverse().limit(4));
    // a later cursor(...) replaces cursorAtEnd, and the other way round
    check(ScanOptions.all().cursorAtEnd().cursor(sorted.get(10)));
    check(ScanOptions.all().cursor(sorted.get(10)).cursorAtEnd());
  }

  @Test
  void pagingForwardVisitsEveryEntryOnce() {
    assertEquals(sorted, pageForward(store, ScanOptions.all(), 7));
    assertEquals(reference(sorted, ScanOptions.all().sortKeyPrefix("b")),
        pageForward(store, ScanOptions.all().sortKeyPrefix("b"), 7));
    assertEquals(reference(sorted, ScanOptions.all().itemKeyPrefix("u/")),
        pageForward(store, ScanOptions.all().itemKeyPrefix("u/"), 7));
  }

  @Test
  void pagingBackwardVisitsEveryEntryOnce() {
    assertEquals(sorted, pageBackward(store, ScanOptions.all(), 7));
    assertEquals(reference(sorted, ScanOptions.all().sortKeyPrefix("2024-01")),
        pageBackward(store, ScanOptions.all().sortKeyPrefix("2024-01"), 7));
    assertEquals(reference(sorted, ScanOptions.all().itemKeyPrefix("mx")),
        pageBackward(store, ScanOptions.all().itemKeyPrefix("mx"), 7));
  }

  /** Pages forward with {@code limit}, each page starting after the last key of the one before. */
  static List<EntryKey> pageForward(StoreView view, ScanOptions base, int limit) {
    List<EntryKey> out = new ArrayList<>();
    Set<EntryKey> seen = new HashSet<>();
    ScanOptions o = base.limit(limit);
    for (int pages = 0; ; pages++) {
      assertTrue(pages <= 2000, "paging does not terminate");
      List<EntryKey> page = keys(Scans.scan(view, TABLE, o));
      assertTrue(page.size() <= limit, "page larger than the limit");
      if (page.isEmpty()) {
        return out;
      }
      for (EntryKey k : page) {
        assertTrue(seen.add(k), "repeated " + k);
        if (!out.isEmpty()) {
          assertTrue(out.get(out.size() - 1).compareTo(k) < 0, "out of order at " + k);
        }
        out.add(k);
      }
      o = base.limit(limit).cursor(page.get(page.size() - 1));
    }
  }

  /** Pages backward with reverse + {@code limit}, each page ending before the first key of the one after. */
  static List<EntryKey> pageBackward(StoreView view, ScanOptions base, int limit) {
    List<List<EntryKey>> pages = new ArrayList<>();
    Set<EntryKey> seen = new HashSet<>();
    ScanOptions o = base.reverse().limit(limit);
    for (int n = 0; ; n++) {
      assertTrue(n <= 2000, "paging does not terminate");
      List<EntryKey> page = keys(Scans.scan(view, TABLE, o));
      assertTrue(page.size() <= limit, "page larger than the limit");
      if (page.isEmpty()) {
        break;
      }
      for (int i = 0; i < page.size(); i++) {
        assertTrue(seen.add(page.get(i)), "repeated " + page.get(i));
        if (i > 0) {
          assertTrue(page.get(i - 1).compareTo(page.get(i)) < 0, "page not ascending: " + page);
        }
      }
      pages.add(page);
      o = base.reverse().limit(limit).cursor(page.get(0));
    }
    Collections.reverse(pages);
    List<EntryKey> out = new ArrayList<>();
    pages.forEach(out::addAll);
    return out;
  }

  // ---------------------------------------------------------------- randomized

  static long seed() {
    return Long.getLong("seed", System.nanoTime());
  }

  /** Random options: every combination of prefix kind, cursor kind, limit and direction. */
  static ScanOptions randomOptions(Random r, List<EntryKey> existing) {
    ScanOptions o = ScanOptions.all();
    switch (r.nextInt(3)) {
      case 1 -> o = o.sortKeyPrefix(randomPrefix(r, existing, true));
      case 2 -> o = o.itemKeyPrefix(randomPrefix(r, existing, false));
      default -> { }
    }
    switch (r.nextInt(5)) {
      case 1 -> o = o.cursor(existing.get(r.nextInt(existing.size())));
      case 2 -> {
        EntryKey k = existing.get(r.nextInt(existing.size()));
        o = o.cursor(r.nextBoolean()
            ? new EntryKey(k.sortKey(), k.itemKey() + (char) ('!' + r.nextInt(90)))
            : new EntryKey(k.sortKey() + (char) r.nextInt(0x80), randomString(r, 3)));
      }
      case 3 -> o = o.cursor(new EntryKey(randomString(r, 4), randomString(r, 4)));
      case 4 -> o = o.cursorAtEnd();
      default -> { }
    }
    switch (r.nextInt(4)) {
      case 1 -> o = o.limit(r.nextInt(3));
      case 2 -> o = o.limit(1 + r.nextInt(60));
      case 3 -> o = o.limit(r.nextInt(2000));
      default -> { }
    }
    if (r.nextBoolean()) {
      o = o.reverse();
    }
    return o;
  }

  private static String randomPrefix(Random r, List<EntryKey> existing, boolean sortKey) {
    if (r.nextInt(3) == 0) {
      return SCAN_PREFIXES[r.nextInt(SCAN_PREFIXES.length)];
    }
    EntryKey k = existing.get(r.nextInt(existing.size()));
    String s = sortKey ? k.sortKey() : k.itemKey();
    return s.substring(0, r.nextInt(s.length() + 1));
  }

  private static String randomString(Random r, int maxLength) {
    String alphabet = "ab/12u-mxz\uFFFF";
    StringBuilder sb = new StringBuilder();
    int n = r.nextInt(maxLength + 1);
    for (int i = 0; i < n; i++) {
      sb.append(alphabet.charAt(r.nextInt(alphabet.length())));
    }
    return sb.toString();
  }

  @Test
  void randomOptionCombinationsMatchTheReference() {
    long seed = seed();
    Random r = new Random(seed);
    for (int i = 0; i < 2000; i++) {
      ScanOptions o = randomOptions(r, sorted);
      assertEquals(reference(sorted, o), scan(o), "seed=" + seed + " (rerun with -Dseed=" + seed + "), case " + i + ": " + o);
    }
    for (int i = 0; i < 20; i++) {
      ScanOptions o = randomOptions(r, sorted);
      // paging is defined with the base options' prefix only
      ScanOptions base = o.prefix() == null ? ScanOptions.all()
          : o.prefixOn() == ScanOptions.PrefixOn.SORT_KEY ? ScanOptions.all().sortKeyPrefix(o.prefix())
          : ScanOptions.all().itemKeyPrefix(o.prefix());
      int limit = 1 + r.nextInt(40);
      List<EntryKey> expected = reference(sorted, base);
      String msg = "seed=" + seed + " paging " + base + " by " + limit;
      assertEquals(expected, pageForward(store, base, limit), msg);
      assertEquals(expected, pageBackward(store, base, limit), msg);
    }
  }

  // ---------------------------------------------------------------- overlays

  /** Random puts, deletes and sort-key moves through one or two stacked overlays, against a TreeMap. */
  @Test
  void overlayScansMatchTheStoreWithTheWritesApplied() {
    long seed = seed();
    Random r = new Random(seed);
    String msg = "seed=" + seed + " (rerun with -Dseed=" + seed + ")";
    List<EntryKey> baseBefore = scan(ScanOptions.all());

    // the reference: item key -> (sort key, value), applying the same writes
    TreeMap<String, Row> byItem = new TreeMap<>();
    for (EntryKey k : sorted) {
      byItem.put(k.itemKey(), new Row(k.sortKey(), k.itemKey(), values.get(k), 0));
    }
    Overlay lower = new Overlay(store);
    Overlay upper = new Overlay(lower);
    List<String> items = new ArrayList<>(byItem.keySet());
    Set<String> touched = new HashSet<>(items);
    List<EntryKey> expectedLower = null;
    for (int i = 0; i < 600; i++) {
      if (i == 300) {
        expectedLower = sortedKeys(byItem);
      }
      // the first half goes to the lower overlay, the second half to the upper one (which shadows it)
      Overlay target = i < 300 ? lower : upper;
      int op = r.nextInt(10);
      String item = r.nextInt(4) == 0 ? "new" + r.nextInt(200) : items.get(r.nextInt(items.size()));
      touched.add(item);
      if (op < 3) {
        target.write(Write.delete(TABLE, item));
        byItem.remove(item);
      } else {
        Row old = byItem.get(item);
        // keep the sort key (value change) or move the entry to another sort key
        String sortKey = op < 5 && old != null ? old.sortKey() : SORT_KEYS[r.nextInt(SORT_KEYS.length)] + (r.nextBoolean() ? "" : "~");
        JsonNode value = F.objectNode().put("w", i);
        target.write(Write.put(TABLE, item, sortKey, value));
        byItem.put(item, new Row(sortKey, item, value, 0));
      }
    }
    // the lower overlay alone shows only the first half
    assertEquals(expectedLower, keys(Scans.scan(lower, TABLE, ScanOptions.all())), msg);
    for (int i = 0; i < 300; i++) {
      ScanOptions o = randomOptions(r, expectedLower);
      assertEquals(reference(expectedLower, o), keys(Scans.scan(lower, TABLE, o)), msg + ", lower case " + i + ": " + o);
    }

    TreeMap<EntryKey, JsonNode> expectedMap = new TreeMap<>();
    for (Row row : byItem.values()) {
      expectedMap.put(row.key(), row.value());
    }
    List<EntryKey> expected = new ArrayList<>(expectedMap.keySet());

    // get() agrees with the reference for every item ever touched
    for (String item : touched) {
      Row got = upper.get(TABLE, item);
      Row want = byItem.get(item);
      assertEquals(want == null, got == null, msg + " get " + item);
      if (want != null) {
        assertEquals(want.key(), got.key(), msg + " get " + item);
        assertEquals(want.value(), got.value(), msg + " get " + item);
      }
    }

    assertEquals(expected, keys(Scans.scan(upper, TABLE, ScanOptions.all())), msg);
    for (Row row : Scans.scan(upper, TABLE, ScanOptions.all())) {
      assertEquals(expectedMap.get(row.key()), row.value(), msg + " value of " + row.key());
    }
    for (int i = 0; i < 1000; i++) {
      ScanOptions o = randomOptions(r, expected);
      assertEquals(reference(expected, o), keys(Scans.scan(upper, TABLE, o)), msg + ", case " + i + ": " + o);
    }
    assertEquals(expected, pageForward(upper, ScanOptions.all(), 7), msg);
    assertEquals(expected, pageBackward(upper, ScanOptions.all(), 7), msg);

    // the store under the overlays is untouched
    assertEquals(baseBefore, scan(ScanOptions.all()), msg);

    // applying the overlays' writes (lower first, then upper) to the store gives the same table
    long version = 100_000;
    for (Write w : lower.writes()) {
      store.apply(w, ++version);
    }
    for (Write w : upper.writes()) {
      store.apply(w, ++version);
    }
    assertEquals(expected, keys(Scans.scan(store, TABLE, ScanOptions.all())), msg);
  }

  private static List<EntryKey> sortedKeys(Map<String, Row> byItem) {
    TreeMap<EntryKey, Row> m = new TreeMap<>();
    for (Row row : byItem.values()) {
      m.put(row.key(), row);
    }
    return new ArrayList<>(m.keySet());
  }

  @Test
  void overlayWithoutWritesToTheTableIsTheParent() {
    Overlay overlay = new Overlay(store);
    overlay.write(Write.put(OTHER, "x", "", F.textNode("x")));
    assertEquals(sorted, keys(Scans.scan(overlay, TABLE, ScanOptions.all())));
    assertEquals(sorted.subList(0, 5), keys(Scans.scan(overlay, TABLE, ScanOptions.all().limit(5))));
    assertEquals(List.of(new EntryKey("", "x"), new EntryKey("a", "u/1")), keys(Scans.scan(overlay, OTHER, ScanOptions.all())));
  }

  @Test
  void overlayMovesAndDeletesAtTheEdgesOfPrefixRanges() {
    Overlay overlay = new Overlay(store);
    TreeMap<EntryKey, JsonNode> ref = new TreeMap<>(values);
    // move every entry of sort key "ab" to "abz", delete every entry of sort key "abc",
    // and put new entries right at the edges of the "ab" range
    for (EntryKey k : sorted) {
      if (k.sortKey().equals("ab")) {
        overlay.write(Write.put(TABLE, k.itemKey(), "abz", values.get(k)));
        ref.remove(k);
        ref.put(new EntryKey("abz", k.itemKey()), values.get(k));
      } else if (k.sortKey().equals("abc")) {
        overlay.write(Write.delete(TABLE, k.itemKey()));
        ref.remove(k);
      }
    }
    for (String sk : new String[] {"ab", "ab\uFFFF", "ac", "aa\uFFFF"}) {
      overlay.write(Write.put(TABLE, "edge" + sk, sk, F.textNode(sk)));
      ref.put(new EntryKey(sk, "edge" + sk), F.textNode(sk));
    }
    List<EntryKey> expected = new ArrayList<>(ref.keySet());
    for (String p : SCAN_PREFIXES) {
      for (ScanOptions o : List.of(ScanOptions.all().sortKeyPrefix(p), ScanOptions.all().sortKeyPrefix(p).reverse(),
          ScanOptions.all().sortKeyPrefix(p).reverse().limit(3), ScanOptions.all().sortKeyPrefix(p).limit(3),
          ScanOptions.all().itemKeyPrefix(p).reverse().limit(3))) {
        assertEquals(reference(expected, o), keys(Scans.scan(overlay, TABLE, o)), o.toString());
      }
    }
  }
}
