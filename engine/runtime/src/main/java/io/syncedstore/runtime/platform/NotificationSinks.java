package io.syncedstore.runtime.platform;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.PlatformService;
import io.syncedstore.api.SyncException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The built-in sinks of the {@code notify.push} platform service, which receives the push
 * requests of {@code notifyActivity} ({@code {"title", "body", "recipients": [...], "app",
 * "instanceId"}}): {@code log} (the default: one INFO line with the title and recipients, never
 * the body) or {@code webhook} (the request as JSON, POSTed to {@code webhook.url}; a status other
 * than 2xx fails the delivery). Chosen by {@code synced-store.notifications.sink}.
 */
final class NotificationSinks {
  private static final Logger LOG = LoggerFactory.getLogger(NotificationSinks.class);

  private NotificationSinks() {}

  static PlatformService fromConfig(Config config) {
    Config c = config.getConfig("synced-store.notifications");
    String sink = c.getString("sink");
    return switch (sink) {
      case "log" -> NotificationSinks::log;
      case "webhook" -> webhook(URI.create(c.getString("webhook.url")), c.getDuration("webhook.timeout"));
      default -> throw new IllegalArgumentException("synced-store.notifications.sink must be log or webhook, got " + sink);
    };
  }

  private static JsonNode log(PlatformService.Call call) {
    LOG.info("push for app [{}] instance [{}]: \"{}\" to {}", call.app(), call.instanceId(), call.input().path("title").asText(),
        call.input().path("recipients"));
    return Json.mapper().createObjectNode().put("delivered", true);
  }

  private static PlatformService webhook(URI url, Duration timeout) {
    HttpClient http = HttpClient.newBuilder().connectTimeout(timeout).build();
    return call -> {
      HttpRequest request = HttpRequest.newBuilder(url).timeout(timeout).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofByteArray(Json.mapper().writeValueAsBytes(call.input()))).build();
      HttpResponse<Void> response = http.send(request, HttpResponse.BodyHandlers.discarding());
      if (response.statusCode() / 100 != 2) {
        throw new SyncException(ErrorCode.SERVICE_FAILED, "the notification webhook answered " + response.statusCode());
      }
      return Json.mapper().createObjectNode().put("delivered", true);
    };
  }
}
