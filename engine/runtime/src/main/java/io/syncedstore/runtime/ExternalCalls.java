package io.syncedstore.runtime;

import com.typesafe.config.Config;

/**
 * Which apps' actions may call which other apps' instances: {@code synced-store.actions.external-calls}
 * maps a target app to the apps it accepts calls from ({@code "*"}: any). An app's actions may
 * always call other instances of the same app.
 */
final class ExternalCalls {
  private ExternalCalls() {}

  static boolean allowed(Config config, String callerApp, String targetApp) {
    String path = "synced-store.actions.external-calls.\"" + targetApp + "\"";
    if (!config.hasPath(path)) {
      return false;
    }
    var callers = config.getStringList(path);
    return callers.contains("*") || callers.contains(callerApp);
  }
}
