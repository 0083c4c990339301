package io.syncedstore.examples.forms;

import io.syncedstore.api.AppDefinition;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.MutationContext;
import io.syncedstore.api.SyncException;
import java.util.List;
import java.util.Map;

/**
 * The form-builder example ({@code docs/SECURITY.md}, "Anonymous access"): signed-in owners create
 * forms; anyone, signed in or not, submits responses; owners see every response.
 *
 * <p>Run it with the {@code mixed} auth provider and the anonymous scopes
 * {@code responses { respondent = "$userId" }}: an anonymous user then sees and writes only its
 * own responses (each anonymous client group is a user of its own, {@code anon-...}), and cannot
 * read or write {@code forms} at all.
 *
 * <ul>
 *   <li>table {@code forms}: item key = form id, value {@link Form};
 *   <li>table {@code responses}: item key = response id, value {@link Response};
 *   <li>{@code createForm({id, title, questions})}: the caller becomes the owner; signed-in users only;
 *   <li>{@code submitResponse({id, formId, answers})}: the caller is the respondent; the form must
 *       exist (checked on the server, which sees every form).
 * </ul>
 */
public final class FormsApp {
  private FormsApp() {}

  /**
   * A form.
   *
   * @param title its title
   * @param owner the user who created it
   * @param questions its questions, in order
   */
  public record Form(String title, String owner, List<String> questions) {}

  /**
   * A response to a form.
   *
   * @param formId the form
   * @param respondent who answered (an {@code anon-...} id for anonymous users)
   * @param answers question to answer
   * @param submittedAt the client's time of submission
   */
  public record Response(String formId, String respondent, Map<String, String> answers, long submittedAt) {}

  /**
   * Input of {@code createForm}.
   *
   * @param id the form id
   * @param title its title
   * @param questions its questions
   */
  public record CreateForm(String id, String title, List<String> questions) {}

  /**
   * Input of {@code submitResponse}.
   *
   * @param id the response id (one per submission; client-made, e.g. {@code makeUniqueId})
   * @param formId the form answered
   * @param answers question to answer
   */
  public record SubmitResponse(String id, String formId, Map<String, String> answers) {}

  /** The app definition. */
  public static final AppDefinition DEFINITION = AppDefinition.builder("forms").schemaVersion(1)
      .table("forms", Form.class)
      .table("responses", Response.class)
      .mutator("createForm", CreateForm.class, (ctx, in) -> {
        String owner = signedIn(ctx);
        if (ctx.table("forms").get(in.id(), Form.class).filter(f -> !f.owner().equals(owner)).isPresent()) {
          throw new SyncException(ErrorCode.MUTATOR_FAILED, "form " + in.id() + " belongs to another user");
        }
        ctx.table("forms").set(in.id(), new Form(in.title(), owner, List.copyOf(in.questions())));
      })
      .mutator("submitResponse", SubmitResponse.class, (ctx, in) -> {
        String respondent = ctx.userId().orElseThrow(() -> new SyncException(ErrorCode.MUTATOR_FAILED,
            "responses need a user (the mixed provider gives anonymous users one)"));
        // Only the server sees every form; an anonymous client has none in its replica.
        if (ctx.isServer() && ctx.table("forms").get(in.formId(), Form.class).isEmpty()) {
          throw new SyncException(ErrorCode.MUTATOR_FAILED, "no form " + in.formId());
        }
        if (ctx.table("responses").get(in.id(), Response.class).isPresent()) {
          throw new SyncException(ErrorCode.MUTATOR_FAILED, "response " + in.id() + " was already submitted");
        }
        ctx.table("responses").set(in.id(), new Response(in.formId(), respondent, Map.copyOf(in.answers()), ctx.timestamp()));
      })
      .build();

  private static String signedIn(MutationContext ctx) {
    return ctx.userId().filter(u -> !u.startsWith("anon-"))
        .orElseThrow(() -> new SyncException(ErrorCode.MUTATOR_FAILED, "only signed-in users create forms"));
  }
}
