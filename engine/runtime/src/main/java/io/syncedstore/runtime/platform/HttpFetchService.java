package io.syncedstore.runtime.platform;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.PlatformService;
import io.syncedstore.api.SyncException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code http.fetch}: input {@code {"method": "GET", "url": "https://...", "headers": {...},
 * "body": "..."}} (method defaults to GET, headers and body are optional), output
 * {@code {"status": 200, "headers": {"name": "value"}, "body": "..."}} with the body as UTF-8
 * text. Only {@code http} and {@code https} URLs whose host is in
 * {@code synced-store.platform.http.allow-hosts} (an entry {@code *.example.com} allows the
 * subdomains of example.com); redirects are not followed (each hop would need the allowlist);
 * bounded by {@code http.timeout} (for the headers, and again for the whole body) and
 * {@code http.max-response-bytes}.
 */
final class HttpFetchService implements PlatformService {
  private final List<String> allowedHosts;
  private final Duration timeout;
  private final long maxResponseBytes;
  private final HttpClient http;
  /** Closes response streams that outlive {@code http.timeout}. */
  private static final java.util.concurrent.ScheduledExecutorService DEADLINES =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "http-fetch-deadlines");
        t.setDaemon(true);
        return t;
      });

  private static void closeQuietly(InputStream stream) {
    try {
      stream.close();
    } catch (IOException e) {
      // closing to cut it off anyway
    }
  }

  HttpFetchService(List<String> allowedHosts, Duration timeout, long maxResponseBytes) {
    this.allowedHosts = allowedHosts.stream().map(h -> h.toLowerCase(Locale.ROOT)).toList();
    this.timeout = timeout;
    this.maxResponseBytes = maxResponseBytes;
    this.http = HttpClient.newBuilder().connectTimeout(timeout).followRedirects(HttpClient.Redirect.NEVER).build();
  }

  boolean allowed(String host) {
    String h = host.toLowerCase(Locale.ROOT);
    for (String a : allowedHosts) {
      if (a.equals(h) || (a.startsWith("*.") && h.endsWith(a.substring(1)))) {
        return true;
      }
    }
    return false;
  }

  @Override
  public JsonNode call(Call call) throws IOException, InterruptedException {
    JsonNode in = call.input();
    String url = in.path("url").asText(null);
    if (url == null) {
      throw new SyncException(ErrorCode.INVALID_INPUT, "http.fetch needs a \"url\"");
    }
    URI uri;
    try {
      uri = URI.create(url);
    } catch (IllegalArgumentException e) {
      throw new SyncException(ErrorCode.INVALID_INPUT, "http.fetch: not a URL: " + url);
    }
    if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null) {
      throw new SyncException(ErrorCode.INVALID_INPUT, "http.fetch takes http and https URLs with a host, got " + url);
    }
    if (!allowed(uri.getHost())) {
      throw new SyncException(ErrorCode.SERVICE_REFUSED, "http.fetch: host '" + uri.getHost()
          + "' is not in synced-store.platform.http.allow-hosts");
    }
    String method = in.path("method").asText("GET").toUpperCase(Locale.ROOT);
    String body = in.path("body").isTextual() ? in.get("body").asText() : null;
    HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(timeout)
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    in.path("headers").fields().forEachRemaining(h -> request.header(h.getKey(), h.getValue().asText()));
    HttpResponse<InputStream> response;
    try {
      response = http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
    } catch (IOException e) {
      throw new SyncException(ErrorCode.SERVICE_FAILED, "http.fetch " + method + " " + url + " failed: " + e);
    }
    byte[] bytes;
    long started = System.nanoTime();
    try (InputStream stream = response.body()) {
      // http.timeout bounds the whole request: a body dripped slowly is cut off by closing the stream.
      var cut = DEADLINES.schedule(() -> closeQuietly(stream), timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
      try {
        bytes = stream.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxResponseBytes + 1));
      } catch (IOException e) {
        if (System.nanoTime() - started >= timeout.toNanos()) {
          throw new SyncException(ErrorCode.SERVICE_FAILED, "http.fetch " + url + ": no complete response within " + timeout.toMillis()
              + " ms (synced-store.platform.http.timeout)");
        }
        throw new SyncException(ErrorCode.SERVICE_FAILED, "http.fetch " + url + ": reading the response failed: " + e);
      } finally {
        cut.cancel(false);
      }
    }
    if (bytes.length > maxResponseBytes) {
      throw new SyncException(ErrorCode.SERVICE_FAILED, "http.fetch " + url + ": the response is larger than "
          + maxResponseBytes + " bytes (synced-store.platform.http.max-response-bytes)");
    }
    ObjectNode out = Json.mapper().createObjectNode();
    out.put("status", response.statusCode());
    ObjectNode headers = out.putObject("headers");
    for (Map.Entry<String, List<String>> h : response.headers().map().entrySet()) {
      headers.put(h.getKey(), String.join(", ", h.getValue()));
    }
    out.put("body", new String(bytes, StandardCharsets.UTF_8));
    return out;
  }
}
