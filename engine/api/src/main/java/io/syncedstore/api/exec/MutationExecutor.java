package io.syncedstore.api.exec;

import com.fasterxml.jackson.databind.JsonNode;
import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.Limits;
import io.syncedstore.api.Membership;
import io.syncedstore.api.MutatorDefinition;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.Values;
import io.syncedstore.api.store.Overlay;
import io.syncedstore.api.store.StoreView;

/**
 * Runs one mutation against a view of the store: finds the mutator, validates the input, runs
 * the code on a fresh {@link Overlay} and returns the write set, or the error. Pure: it never
 * changes {@code view}. The server and the client both run mutations through here.
 */
public final class MutationExecutor {
  private final AppDefinition app;
  private final boolean isServer;

  /**
   * @param app the app whose mutators run
   * @param isServer whether this is the authoritative (server) run
   */
  public MutationExecutor(AppDefinition app, boolean isServer) {
    this.app = app;
    this.isServer = isServer;
  }

  /** @return the app */
  public AppDefinition app() {
    return app;
  }

  /** Runs {@code invocation} on top of {@code view}. Never throws for anything the mutation did. */
  public MutationOutcome run(StoreView view, MutationInvocation invocation) {
    if (Membership.isMembershipMutator(invocation.name())) {
      return runMembership(view, invocation);
    }
    MutatorDefinition<?> def = app.mutator(invocation.name()).orElse(null);
    if (def == null) {
      return new MutationOutcome.Failed(ErrorCode.UNKNOWN_MUTATOR,
          "app '" + app.name() + "' has no mutator '" + invocation.name() + "'");
    }
    try {
      return runChecked(view, invocation, def);
    } catch (Throwable e) {
      return failure(invocation, e);
    }
  }

  /** A membership change and its hook, as the server's own client only. */
  private MutationOutcome runMembership(StoreView view, MutationInvocation invocation) {
    if (!MutationInvocation.SERVER_CLIENT.equals(invocation.clientId())) {
      return new MutationOutcome.Failed(ErrorCode.UNKNOWN_MUTATOR,
          "mutator '" + invocation.name() + "' is run only by the server's membership API");
    }
    try {
      Overlay overlay = new Overlay(view);
      MutationContextImpl ctx = new MutationContextImpl(app, overlay, invocation, isServer);
      MembershipMutators.run(app, ctx, invocation.name(), invocation.args());
      return new MutationOutcome.Applied(overlay.writes(), ctx.enqueuedActions(), ctx.cancelledActions());
    } catch (Throwable e) {
      return failure(invocation, e);
    }
  }

  private static MutationOutcome failure(MutationInvocation invocation, Throwable e) {
    if (e instanceof SyncException s) {
      return new MutationOutcome.Failed(s.code(), s.getMessage());
    }
    // App code must never take the instance down: errors (AssertionError, a StackOverflowError, an
    // OutOfMemoryError from one huge allocation) fail the mutation too. Only a broken VM propagates.
    if (e instanceof VirtualMachineError && !(e instanceof StackOverflowError) && !(e instanceof OutOfMemoryError)) {
      throw (VirtualMachineError) e;
    }
    String message = e.getMessage() == null ? e.getClass().getName() : e.getMessage();
    return new MutationOutcome.Failed(ErrorCode.MUTATOR_FAILED, invocation.name() + " failed: " + message);
  }

  private <I> MutationOutcome runChecked(StoreView view, MutationInvocation invocation, MutatorDefinition<I> def) throws Exception {
    Limits limits = app.limits();
    JsonNode args = invocation.args();
    String what = "input of " + def.name();
    if (args == null) {
      throw new SyncException(ErrorCode.INVALID_INPUT, what + ": missing");
    }
    Values.checkPlainJson(args, limits.maxJsonDepth(), what);
    int size = Json.byteSize(args);
    if (size > limits.maxInputBytes()) {
      throw new SyncException(ErrorCode.INPUT_TOO_LARGE,
          what + " is " + size + " bytes, over the limit of " + limits.maxInputBytes());
    }
    I input = Values.convert(args, def.inputType(), what);
    Overlay overlay = new Overlay(view);
    MutationContextImpl ctx = new MutationContextImpl(app, overlay, invocation, isServer);
    def.mutator().apply(ctx, input);
    return new MutationOutcome.Applied(overlay.writes(), ctx.enqueuedActions(), ctx.cancelledActions());
  }
}
