package io.syncedstore.api;

import java.util.List;

/**
 * Supplies app definitions to a server. Implementations are found with {@link
 * java.util.ServiceLoader}: list the class in
 * {@code META-INF/services/io.syncedstore.api.AppProvider} and put the jar on the server's class path.
 */
public interface AppProvider {
  /** @return the apps this provider defines */
  List<AppDefinition> apps();
}
