package io.syncedstore.runtime.platform;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.PlatformService;
import io.syncedstore.api.SyncException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * {@code blob.put} and {@code blob.get}: content-addressed bytes, one file per blob named by its
 * SHA-256 under {@code synced-store.platform.blob.dir} (default {@code <data-dir>/blobs}).
 * {@code blob.put} takes {@code {"base64": "..."}} (or {@code {"text": "..."}}, stored as UTF-8)
 * and returns {@code {"hash": "<sha-256 hex>", "size": n}}; storing the same bytes twice stores
 * them once. {@code blob.get} takes {@code {"hash": "..."}} and returns {@code {"base64": "...",
 * "size": n}}. At most {@code blob.max-bytes} a blob.
 */
final class BlobStore {
  private static final Pattern HASH = Pattern.compile("[0-9a-f]{64}");
  private final Path dir;
  private final long maxBytes;

  BlobStore(Path dir, long maxBytes) {
    this.dir = dir;
    this.maxBytes = maxBytes;
  }

  static Path directory(Config config) {
    String dir = config.getString("synced-store.platform.blob.dir");
    if (!dir.isEmpty()) {
      return Path.of(dir);
    }
    return config.hasPath("synced-store.data-dir") ? Path.of(config.getString("synced-store.data-dir"), "blobs")
        : Path.of(System.getProperty("java.io.tmpdir"), "synced-store-blobs");
  }

  JsonNode put(PlatformService.Call call) throws IOException {
    JsonNode in = call.input();
    byte[] bytes;
    if (in.path("base64").isTextual()) {
      try {
        bytes = Base64.getDecoder().decode(in.get("base64").asText());
      } catch (IllegalArgumentException e) {
        throw new SyncException(ErrorCode.INVALID_INPUT, "blob.put: base64 is not valid Base64: " + e.getMessage());
      }
    } else if (in.path("text").isTextual()) {
      bytes = in.get("text").asText().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    } else {
      throw new SyncException(ErrorCode.INVALID_INPUT, "blob.put needs {\"base64\": \"...\"} or {\"text\": \"...\"}");
    }
    if (bytes.length > maxBytes) {
      throw new SyncException(ErrorCode.SERVICE_REFUSED, "blob.put: " + bytes.length + " bytes is over the limit of "
          + maxBytes + " (synced-store.platform.blob.max-bytes)");
    }
    String hash = sha256(bytes);
    Path file = dir.resolve(hash);
    if (!Files.exists(file)) {
      Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, hash, ".tmp");
      Files.write(tmp, bytes);
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
    return Json.mapper().createObjectNode().put("hash", hash).put("size", bytes.length);
  }

  JsonNode get(PlatformService.Call call) throws IOException {
    String hash = call.input().path("hash").asText("");
    if (!HASH.matcher(hash).matches()) {
      throw new SyncException(ErrorCode.INVALID_INPUT, "blob.get needs {\"hash\": \"<64 lowercase hex digits>\"}");
    }
    Path file = dir.resolve(hash);
    if (!Files.exists(file)) {
      throw new SyncException(ErrorCode.SERVICE_FAILED, "blob.get: no blob " + hash);
    }
    byte[] bytes = Files.readAllBytes(file);
    return Json.mapper().createObjectNode().put("base64", Base64.getEncoder().encodeToString(bytes)).put("size", bytes.length);
  }

  private static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
