package io.syncedstore.api;

import java.util.List;
import java.util.Optional;

/**
 * Who belongs to an instance ({@code docs/SECURITY.md}, "Membership"). Every app has two system
 * tables, readable by app code and by clients (public tier), written only by the server's
 * membership API ({@code /admin/v1/...}, {@code docs/HTTP-API.md}):
 *
 * <ul>
 *   <li>{@value #USERS}: user id to {@link Member} (joined, removed, permissions);
 *   <li>{@value #USER_INFO}: user id to {@link UserInfo} (display name, user name, picture).
 * </ul>
 *
 * <p>Each change is one system mutation in the op log, and the app's hooks ({@link Hooks}) run in
 * the same mutation: all of it is applied, or none.
 */
public final class Membership {
  /** The members table. */
  public static final String USERS = "$users";
  /** The user-info table. */
  public static final String USER_INFO = "$userInfo";
  /** The server-only table of instance settings; its row {@value #ACCESS_KEY} holds the {@link Access}. */
  public static final String INSTANCE = "$instance";
  /** The key of the instance's access setting in {@value #INSTANCE}. */
  public static final String ACCESS_KEY = "access";

  /** System mutator: add (or re-add) a member. Input {@link AddUser}. */
  public static final String ADD_USER = "$addUser";
  /** System mutator: remove a member. Input {@link UserRef}. */
  public static final String REMOVE_USER = "$removeUser";
  /** System mutator: grant a permission. Input {@link PermissionChange}. */
  public static final String GRANT_PERMISSION = "$grantPermission";
  /** System mutator: revoke a permission. Input {@link PermissionChange}. */
  public static final String REVOKE_PERMISSION = "$revokePermission";
  /** System mutator: set a user's info. Input {@link SetUserInfo}. */
  public static final String SET_USER_INFO = "$setUserInfo";
  /** System mutator: make the instance members-only or open. Input {@link Access}. */
  public static final String SET_ACCESS = "$setAccess";

  /** The membership mutators, which only the server runs. */
  public static final List<String> MUTATORS = List.of(ADD_USER, REMOVE_USER, GRANT_PERMISSION, REVOKE_PERMISSION, SET_USER_INFO, SET_ACCESS);

  private Membership() {}

  /** @return whether {@code mutator} is one of the server's membership mutators */
  public static boolean isMembershipMutator(String mutator) {
    return MUTATORS.contains(mutator);
  }

  /**
   * A row of {@value #USERS}.
   *
   * @param joinedAt when the user was (last) added, epoch milliseconds
   * @param removedAt when the user was removed; empty (absent in JSON) while a member
   * @param permissions the user's permissions, sorted
   */
  public record Member(long joinedAt, java.util.Optional<Long> removedAt, List<String> permissions) {
    /** Copies {@code permissions}. */
    public Member {
      removedAt = removedAt == null ? java.util.Optional.empty() : removedAt;
      permissions = permissions == null ? List.of() : List.copyOf(permissions);
    }

    /** @return whether the user is a member now */
    public boolean active() {
      return removedAt.isEmpty();
    }
  }

  /**
   * A row of {@value #USER_INFO}; any field may be {@code null}.
   *
   * @param displayName the name to show
   * @param username the handle
   * @param profilePicture a picture URL
   */
  public record UserInfo(String displayName, String username, String profilePicture) {}

  /**
   * An instance's access setting.
   *
   * @param membersOnly whether only members (active rows of {@value #USERS}) may connect, push,
   *     pull and call actions; otherwise any authenticated or anonymous caller may
   */
  public record Access(boolean membersOnly) {}

  /**
   * Input of {@value #ADD_USER}.
   *
   * @param userId the user
   * @param permissions permissions to start with, or {@code null}
   */
  public record AddUser(String userId, List<String> permissions) {}

  /**
   * Input of {@value #REMOVE_USER}.
   *
   * @param userId the user
   */
  public record UserRef(String userId) {}

  /**
   * Input of {@value #GRANT_PERMISSION} and {@value #REVOKE_PERMISSION}.
   *
   * @param userId the user
   * @param permission the permission
   */
  public record PermissionChange(String userId, String permission) {}

  /**
   * Input of {@value #SET_USER_INFO}.
   *
   * @param userId the user
   * @param info the info
   */
  public record SetUserInfo(String userId, UserInfo info) {}

  /**
   * The app's membership hooks. Each runs inside the system mutation that makes the change, with
   * that mutation's context ({@code ctx.userId()} is the user concerned): what it writes is
   * applied together with the change, and if it throws, or writes the private tier of another
   * user ({@link ErrorCode#TAMPER}), nothing is applied.
   *
   * @param onAddUser after a user is added
   * @param onRemoveUser after a user is removed
   * @param onGrantPermission after a permission is granted
   * @param onRevokePermission after a permission is revoked
   */
  public record Hooks(UserHook onAddUser, UserHook onRemoveUser, PermissionHook onGrantPermission,
      PermissionHook onRevokePermission) {
    /** No hooks. */
    public static final Hooks NONE = new Hooks(null, null, null, null);
  }

  /** A hook about a user. */
  @FunctionalInterface
  public interface UserHook {
    /**
     * @param ctx the system mutation's context
     * @param userId the user added or removed
     */
    void apply(MutationContext ctx, String userId) throws Exception;
  }

  /** A hook about a permission. */
  @FunctionalInterface
  public interface PermissionHook {
    /**
     * @param ctx the system mutation's context
     * @param userId the user
     * @param permission the permission granted or revoked
     */
    void apply(MutationContext ctx, String userId, String permission) throws Exception;
  }
}
