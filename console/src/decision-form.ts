/**
 * A person's decision with a text, as the change page asks for two of them: an approval (Approve or
 * Deny, an optional comment) and a verdict on a paused verification (Pass or Fail, a required
 * reason). One form: the text field, a button per choice, the line that says why the buttons are
 * off or what they answer, the text's own check before anything is sent, and the API's problem when
 * it refuses. The text lives in a draft the screen keeps, so a refusal or a re-render never loses
 * what the person typed; an accepted decision clears it.
 */
import { html, nothing, type TemplateResult } from "lit-html";
import { live } from "lit-html/directives/live.js";
import type { Problem } from "./api/client";
import { problemView } from "./ui";

/** What the gateway takes in a comment or a reason (schemas/api: `maxLength(2000)`). */
export const TEXT_LIMIT = 2000;

/** What the person typed, the text's own problem, and the API's answer to the last attempt. */
export interface DecisionDraft {
  text: string;
  /** Why the text cannot be sent (checked in the page, before a request). */
  invalid: string | null;
  /** The API's refusal of the last attempt. */
  problem: Problem | null;
}

export const newDraft = (): DecisionDraft => ({ text: "", invalid: null, problem: null });

/** The text as it is sent (trimmed, or null when empty and optional), or why it cannot be. */
export type TextCheck =
  | { readonly ok: true; readonly text: string | null }
  | { readonly ok: false; readonly message: string };

/**
 * Checks a decision's text as the gateway will: a required text must say something (not only
 * spaces), and no text may pass the limit. `why` completes "say …" in the message.
 */
export function checkText(raw: string, rule: { readonly required: boolean; readonly why: string }): TextCheck {
  const text = raw.trim();
  if (text === "") {
    return rule.required ? { ok: false, message: `A reason is required: say ${rule.why}.` } : { ok: true, text: null };
  }
  if (text.length > TEXT_LIMIT) {
    return {
      ok: false,
      message: `The text is ${text.length} characters long, more than the ${TEXT_LIMIT} allowed: shorten it.`,
    };
  }
  return { ok: true, text };
}

/** The draft after the API answered: accepted clears it; a refusal keeps the text and shows the problem. */
export function settleDraft(draft: DecisionDraft, problem: Problem | null): DecisionDraft {
  return problem === null ? newDraft() : { text: draft.text, invalid: null, problem };
}

export interface DecisionChoice<D extends string> {
  readonly decision: D;
  readonly label: string;
  readonly tone: "primary" | "danger";
}

export interface DecisionFormSpec<D extends string> {
  /** The text field's id (a test or a label may name it); the why line and the error are `${id}-why`, `${id}-error`. */
  readonly fieldId: string;
  /** The id of the line that says why the buttons are off, or what they answer. */
  readonly whyId: string;
  readonly label: string;
  readonly required: boolean;
  /** Completes "A reason is required: say …". */
  readonly why: string;
  readonly choices: readonly DecisionChoice<D>[];
  /** Why the signed-in person cannot decide now; null when they can. */
  readonly blocked: string | null;
  /** The why line when they can: what the buttons answer. */
  readonly ready: string;
  /** Another command of the page is on its way. */
  readonly busy: boolean;
  readonly draft: DecisionDraft;
  readonly rerender: () => void;
  /** Sends the decision; resolves to the API's problem, or null when it was accepted. */
  readonly submit: (decision: D, text: string | null) => Promise<Problem | null>;
}

/**
 * The form: the text field, a button per choice, the why line, and the text's or the API's problem.
 * The field shows the draft through `live`, which writes it only when it differs from what is on
 * screen: the page renders every second, and a write would move the caret while someone types.
 */
export function decisionForm<D extends string>(spec: DecisionFormSpec<D>): TemplateResult {
  const { draft } = spec;
  const errorId = `${spec.fieldId}-error`;
  const off = spec.blocked !== null || spec.busy;
  const decide = async (decision: D) => {
    const checked = checkText(draft.text, { required: spec.required, why: spec.why });
    if (!checked.ok) {
      draft.invalid = checked.message;
      spec.rerender();
      document.getElementById(spec.fieldId)?.focus();
      return;
    }
    draft.invalid = null;
    draft.problem = null;
    Object.assign(draft, settleDraft(draft, await spec.submit(decision, checked.text)));
    spec.rerender();
  };
  return html`<div class="answer">
    <label for=${spec.fieldId}>${spec.label}</label>
    <textarea
      id=${spec.fieldId}
      rows="2"
      maxlength=${TEXT_LIMIT}
      ?required=${spec.required}
      aria-required=${spec.required ? "true" : "false"}
      aria-invalid=${draft.invalid ? "true" : "false"}
      aria-describedby=${draft.invalid ? errorId : spec.whyId}
      ?disabled=${spec.blocked !== null}
      .value=${live(draft.text)}
      @input=${(e: InputEvent) => {
        draft.text = (e.target as HTMLTextAreaElement).value;
        if (draft.invalid) {
          draft.invalid = null;
          spec.rerender();
        }
      }}
    ></textarea>
    ${draft.invalid ? html`<p id=${errorId} class="field-error" role="alert">${draft.invalid}</p>` : nothing}
    <div class="actions">
      ${spec.choices.map(
        (c) =>
          html`<button class=${c.tone} type="button" ?disabled=${off} aria-describedby=${spec.whyId} @click=${() => void decide(c.decision)}>${c.label}</button>`,
      )}
    </div>
    <p id=${spec.whyId} class="why">${spec.blocked ?? spec.ready}</p>
    ${problemView(draft.problem)}
  </div>`;
}
