package io.syncedstore.runtime;

import java.util.List;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;

/**
 * The list of instances that have enqueued or scheduled actions not yet completed, kept outside
 * the instances so that a restarted server can start them (and so run their actions) before
 * anything else touches them. Instances report changes here; the persistence module installs a
 * store in the journal's database. Without a store (tests of the runtime alone) nothing is kept.
 * An actor-system extension.
 */
public final class ActionWakeups implements Extension {
  /** Where the list is kept. Calls may block; they come from a background thread, not from instances. */
  public interface Store {
    /**
     * @param persistenceId the instance
     * @param outstanding whether it has outstanding actions now
     */
    void set(String persistenceId, boolean outstanding);

    /** @return the instances listed */
    List<String> listed();
  }

  /** The extension's id. */
  public static final class Id extends ExtensionId<ActionWakeups> {
    static final Id INSTANCE = new Id();

    @Override
    public ActionWakeups createExtension(ActorSystem<?> system) {
      return new ActionWakeups();
    }
  }

  private volatile Store store;

  private ActionWakeups() {}

  /**
   * @param system the server's actor system
   * @return its wake-up list
   */
  public static ActionWakeups get(ActorSystem<?> system) {
    return Id.INSTANCE.apply(system);
  }

  /** @param store where to keep the list from now on */
  public void install(Store store) {
    this.store = store;
  }

  /**
   * Records whether instance {@code persistenceId} has outstanding actions.
   *
   * @param persistenceId the instance
   * @param outstanding whether it has any
   */
  public void set(String persistenceId, boolean outstanding) {
    Store s = store;
    if (s != null) {
      s.set(persistenceId, outstanding);
    }
  }
}
