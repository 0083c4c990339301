package io.syncedstore.runtime.platform;

import com.typesafe.config.Config;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.PlatformService;
import io.syncedstore.api.SyncException;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;

/**
 * The platform services of one server (an actor-system extension): the built-in {@code env.get},
 * {@code http.fetch}, {@code blob.put}, {@code blob.get} and {@code notify.push} (the
 * notification sink of {@code notifyActivity}), configured under
 * {@code synced-store.platform}, plus any an embedding registers. {@link #register} replaces a
 * service, which is how tests stub {@code http.fetch}. Thread-safe.
 */
public final class PlatformServices implements Extension {
  private final Map<String, PlatformService> services = new ConcurrentHashMap<>();

  /** The extension's id. */
  public static final class Id extends ExtensionId<PlatformServices> {
    static final Id INSTANCE = new Id();

    @Override
    public PlatformServices createExtension(ActorSystem<?> system) {
      return new PlatformServices(system.settings().config());
    }
  }

  /**
   * @param system the server's actor system
   * @return its platform services
   */
  public static PlatformServices get(ActorSystem<?> system) {
    return Id.INSTANCE.apply(system);
  }

  PlatformServices(Config config) {
    Config c = config.getConfig("synced-store.platform");
    services.put("env.get", new EnvService(Set.copyOf(c.getStringList("env.allow")), System::getenv));
    services.put("http.fetch", new HttpFetchService(c.getStringList("http.allow-hosts"), c.getDuration("http.timeout"),
        c.getBytes("http.max-response-bytes")));
    BlobStore blobs = new BlobStore(BlobStore.directory(config), c.getBytes("blob.max-bytes"));
    services.put("blob.put", blobs::put);
    services.put("blob.get", blobs::get);
    services.put("notify.push", NotificationSinks.fromConfig(config));
  }

  /**
   * Registers {@code service} under {@code name}, replacing any service of that name.
   *
   * @param name the name actions call it by
   * @param service the service
   */
  public void register(String name, PlatformService service) {
    services.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(service, "service"));
  }

  /**
   * @param name a service's name
   * @return the service
   * @throws SyncException {@link ErrorCode#UNKNOWN_SERVICE} when there is none
   */
  public PlatformService service(String name) {
    PlatformService s = services.get(name);
    if (s == null) {
      throw new SyncException(ErrorCode.UNKNOWN_SERVICE, "the server has no platform service '" + name + "'; it has "
          + new java.util.TreeSet<>(services.keySet()));
    }
    return s;
  }
}
