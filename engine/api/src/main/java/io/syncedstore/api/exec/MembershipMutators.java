package io.syncedstore.api.exec;

import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Membership;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.Table;
import io.syncedstore.api.Values;
import io.syncedstore.api.store.TableAddress;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The membership system mutators ({@link Membership}): they write {@link Membership#USERS},
 * {@link Membership#USER_INFO} and {@link Membership#INSTANCE} as the engine, then run the app's
 * hook in the same context, so the change and what the hook writes are one mutation.
 */
final class MembershipMutators {
  private static final Pattern PERMISSION = Pattern.compile("[A-Za-z0-9_.:-]{1,64}");
  private static final int MAX_PERMISSIONS = 64;

  private MembershipMutators() {}

  static void run(AppDefinition app, MutationContextImpl ctx, String name, JsonNode args) throws Exception {
    Table users = ctx.systemTable(TableAddress.publicTable(Membership.USERS));
    Membership.Hooks hooks = app.hooks();
    switch (name) {
      case Membership.ADD_USER -> {
        Membership.AddUser in = input(args, Membership.AddUser.class, name);
        String user = checkUser(in.userId(), ctx);
        List<String> permissions = checkPermissions(in.permissions() == null ? List.of() : in.permissions());
        users.set(user, new Membership.Member(ctx.timestamp(), java.util.Optional.empty(), permissions));
        if (hooks.onAddUser() != null) {
          hooks.onAddUser().apply(ctx, user);
        }
      }
      case Membership.REMOVE_USER -> {
        String user = checkUser(input(args, Membership.UserRef.class, name).userId(), ctx);
        Membership.Member m = activeMember(users, user);
        users.set(user, new Membership.Member(m.joinedAt(), java.util.Optional.of(ctx.timestamp()), m.permissions()));
        if (hooks.onRemoveUser() != null) {
          hooks.onRemoveUser().apply(ctx, user);
        }
      }
      case Membership.GRANT_PERMISSION, Membership.REVOKE_PERMISSION -> {
        Membership.PermissionChange in = input(args, Membership.PermissionChange.class, name);
        String user = checkUser(in.userId(), ctx);
        String permission = checkPermissions(List.of(in.permission() == null ? "" : in.permission())).get(0);
        Membership.Member m = activeMember(users, user);
        TreeSet<String> permissions = new TreeSet<>(m.permissions());
        boolean grant = name.equals(Membership.GRANT_PERMISSION);
        if (grant ? permissions.add(permission) : permissions.remove(permission)) {
          users.set(user, new Membership.Member(m.joinedAt(), java.util.Optional.empty(), checkPermissions(new ArrayList<>(permissions))));
          Membership.PermissionHook hook = grant ? hooks.onGrantPermission() : hooks.onRevokePermission();
          if (hook != null) {
            hook.apply(ctx, user, permission);
          }
        }
      }
      case Membership.SET_USER_INFO -> {
        Membership.SetUserInfo in = input(args, Membership.SetUserInfo.class, name);
        String user = checkUser(in.userId(), ctx);
        if (in.info() == null) {
          throw new SyncException(ErrorCode.INVALID_INPUT, "input of " + name + ": info is required");
        }
        ctx.systemTable(TableAddress.publicTable(Membership.USER_INFO)).set(user, in.info());
      }
      case Membership.SET_ACCESS -> ctx.systemTable(TableAddress.serverOnlyTable(Membership.INSTANCE))
          .set(Membership.ACCESS_KEY, input(args, Membership.Access.class, name));
      default -> throw new IllegalArgumentException("not a membership mutator: " + name);
    }
  }

  private static <T> T input(JsonNode args, Class<T> type, String name) {
    return Values.convert(args, type, "input of " + name);
  }

  /** The mutation runs as the user concerned ({@code ctx.userId()}), so that hooks write that user's private tier. */
  private static String checkUser(String userId, MutationContextImpl ctx) {
    if (userId == null || userId.isEmpty() || userId.length() > 128 || userId.startsWith("$")) {
      throw new SyncException(ErrorCode.INVALID_INPUT, "userId must be 1 to 128 characters, not starting with $");
    }
    Optional<String> runAs = ctx.userId();
    if (runAs.isEmpty() || !runAs.get().equals(userId)) {
      throw new SyncException(ErrorCode.INVALID_INPUT, "a membership mutation runs as the user it concerns");
    }
    return userId;
  }

  private static Membership.Member activeMember(Table users, String user) {
    return users.get(user, Membership.Member.class).filter(Membership.Member::active)
        .orElseThrow(() -> new SyncException(ErrorCode.NOT_FOUND, "user '" + user + "' is not a member"));
  }

  private static List<String> checkPermissions(List<String> permissions) {
    if (permissions.size() > MAX_PERMISSIONS) {
      throw new SyncException(ErrorCode.INVALID_INPUT, "a user has at most " + MAX_PERMISSIONS + " permissions");
    }
    for (String p : permissions) {
      if (p == null || !PERMISSION.matcher(p).matches()) {
        throw new SyncException(ErrorCode.INVALID_INPUT, "permission '" + p + "' must match " + PERMISSION.pattern());
      }
    }
    return List.copyOf(new TreeSet<>(permissions));
  }
}
