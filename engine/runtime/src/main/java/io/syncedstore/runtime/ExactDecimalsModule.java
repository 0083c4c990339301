package io.syncedstore.runtime;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.module.SimpleModule;

/**
 * Makes Pekko's Jackson mapper (events, snapshots, messages between nodes) read JSON numbers as
 * {@link io.syncedstore.api.Json#mapper()} does: decimals keep their scale ({@code 1.0} stays
 * {@code 1.0}, not {@code 1}), so a value is the same tree after the journal or another node as
 * before. Pekko has no setting for this {@code JsonNodeFeature}; it registers this module
 * ({@code pekko.serialization.jackson.jackson-modules}, engine/runtime reference.conf).
 */
public final class ExactDecimalsModule extends SimpleModule {
  /** Creates the module (Pekko instantiates it by class name). */
  public ExactDecimalsModule() {
    super("synced-store-exact-decimals");
  }

  @Override
  public void setupModule(SetupContext context) {
    super.setupModule(context);
    if (context.getOwner() instanceof ObjectMapper mapper) {
      mapper.configure(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES, false);
    }
  }
}
