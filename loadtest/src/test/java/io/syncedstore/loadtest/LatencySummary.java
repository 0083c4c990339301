package io.syncedstore.loadtest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import org.HdrHistogram.AbstractHistogram;

/**
 * Small helpers shared by the simulations that measure something Gatling cannot time by itself
 * (a latency that starts in one virtual user and ends in another): formats an HdrHistogram of
 * milliseconds, and writes a simulation's summary next to the Gatling reports.
 */
final class LatencySummary {
  private LatencySummary() {}

  /** "n=…, p50 … / p95 … / p99 … / max … ms" of a histogram of milliseconds, or "no samples". */
  static String describe(AbstractHistogram h) {
    if (h.getTotalCount() == 0) {
      return "no samples";
    }
    return String.format("n=%d, p50 %d / p95 %d / p99 %d / max %d ms", h.getTotalCount(), h.getValueAtPercentile(50),
        h.getValueAtPercentile(95), h.getValueAtPercentile(99), h.getMaxValue());
  }

  /**
   * Prints a summary and writes it to {@code <simulation>-summary-<time>.txt} in the loadtest
   * module's {@code target} directory (the parent of the compiled test classes; the Maven plugin's
   * forked JVM runs in the directory Maven was started from), next to the HTML reports, or in the
   * {@code summaryDir} system property.
   */
  static void publish(String simulation, String text) {
    System.out.println(text);
    Path dir = Path.of(System.getProperty("summaryDir", targetDir()));
    Path file = dir.resolve(simulation + "-summary-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + ".txt");
    try {
      Files.createDirectories(dir);
      Files.writeString(file, text);
      System.out.println("summary written to " + file.toAbsolutePath());
    } catch (IOException e) {
      System.out.println("could not write the summary to " + file + ": " + e);
    }
  }

  private static String targetDir() {
    try {
      Path classes = Path.of(LatencySummary.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      return classes.getParent().toString();
    } catch (Exception e) {
      return "target";
    }
  }
}
