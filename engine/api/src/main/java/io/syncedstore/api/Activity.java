package io.syncedstore.api;

import java.util.List;

/**
 * An activity notification, as {@link MutationContext#notifyActivity} records it (after the
 * reference SDK's {@code notifyActivity}): each target user's activity row
 * ({@link #TABLE}{@code /}{@link #KEY} in their private tier) gets the preview and, with
 * {@code markUnread}, one more unread; with {@code push}, a push request goes to the server's
 * notification sink.
 *
 * @param preview a short text for the activity list ("Bob: are we still on?")
 * @param previewTimestamp when it happened, epoch milliseconds
 * @param markUnread whether to count it as unread for the targets
 * @param targetUserIds who is notified; the caller is left out unless {@code includeCaller}
 * @param push a push notification to send, or {@code null}
 * @param includeCaller whether the caller is notified too
 */
public record Activity(String preview, long previewTimestamp, boolean markUnread, List<String> targetUserIds, Push push,
    boolean includeCaller) {
  /** The system table of activity rows: one row, {@link #KEY}, in each user's private tier. */
  public static final String TABLE = "$activity";
  /** The key of a user's activity row. */
  public static final String KEY = "activity";
  /** The built-in action that hands push requests to the notification sink. */
  public static final String NOTIFY_ACTION = "$notify";
  /** The built-in mutator that sets the caller's unread count to 0: {@code client.mutate("$markActivityRead", Map.of())}. */
  public static final String MARK_READ = "$markActivityRead";

  /** Checks the fields. */
  public Activity {
    if (preview == null || targetUserIds == null) {
      throw new IllegalArgumentException("an activity needs a preview and targetUserIds");
    }
    targetUserIds = List.copyOf(targetUserIds);
  }

  /**
   * A push notification.
   *
   * @param title its title
   * @param body its text
   */
  public record Push(String title, String body) {}

  /**
   * A user's activity row.
   *
   * @param preview the latest activity's preview
   * @param previewTimestamp its time
   * @param unreadCount activities since the user last marked them read
   */
  public record State(String preview, long previewTimestamp, long unreadCount) {}

  /**
   * What the {@link #NOTIFY_ACTION} action receives and hands to the {@code notify.push} platform service.
   *
   * @param title the title
   * @param body the text
   * @param recipients the users to notify
   */
  public record PushRequest(String title, String body, List<String> recipients) {}
}
