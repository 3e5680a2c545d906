/** Small templates every screen uses: problems, statuses, times, countdowns, JSON. */
import { html, nothing, type TemplateResult } from "lit-html";
import type { Api, Me, Problem } from "./api/client";
import type { Auth } from "./auth";
import type { Live } from "./live";
import type { Route } from "./router";

/** What a screen is given. */
export interface Context {
  readonly api: Api;
  readonly auth: Auth;
  readonly live: Live;
  /** The signed-in person as the gateway sees them (`GET /v1/me`); null when it could not be read. */
  readonly me: Me | null;
  /** Schedules a render of the current screen (batched to the next frame). */
  readonly rerender: () => void;
}

/** A mounted screen: its view and what it must let go of when left. */
export interface Screen {
  readonly title: string;
  view(): TemplateResult;
  dispose(): void;
}

export type ScreenFactory = (context: Context, route: Route) => Screen;

type Role = Me["roles"][number];
/** Roles that satisfy a requirement, as the gateway checks them (lib/auth `hasRole`): admin can do anything. */
const SATISFIES: Record<Role, readonly Role[]> = {
  viewer: ["viewer", "operator", "approver", "admin"],
  operator: ["operator", "admin"],
  approver: ["approver", "admin"],
  admin: ["admin"],
};

/** Whether the signed-in person holds `role` (or one that implies it). */
export function hasRole(me: Me | null, role: Role): boolean {
  return me?.roles.some((r) => SATISFIES[role].includes(r)) ?? false;
}

/** An API error as the API said it: what went wrong, its detail, and how to fix it. */
export function problemView(problem: Problem | null): TemplateResult | typeof nothing {
  if (!problem) return nothing;
  return html`<div class="problem" role="alert">
    <p class="problem-title"><strong>${problem.title}</strong>${problem.status ? html` <span class="muted">(${problem.status} ${problem.code})</span>` : nothing}</p>
    <p>${problem.detail}</p>
    ${problem.fix ? html`<p><strong>Fix:</strong> ${problem.fix}</p>` : nothing}
    ${
      problem.errors?.length
        ? html`<ul>
          ${problem.errors.map((e) => html`<li><code>${e.field}</code>: ${e.message}${e.fix ? html` — ${e.fix}` : nothing}</li>`)}
        </ul>`
        : nothing
    }
  </div>`;
}

const STATUS_CLASS: Record<string, string> = {
  pending_approval: "warn",
  // Verification waits for a person's verdict: a colour of its own, as nothing else on the page waits so.
  paused: "paused",
  requested: "info",
  proposed: "info",
  running: "info",
  rolling_back: "warn",
  approved: "ok",
  succeeded: "ok",
  granted: "ok",
  verified: "ok",
  failed: "bad",
  rejected: "bad",
  denied: "bad",
  expired: "muted",
  cancelled: "muted",
  verification_failed: "bad",
  rolled_back: "warn",
};

export function statusBadge(status: string | null | undefined): TemplateResult {
  const s = status ?? "unknown";
  return html`<span class="badge badge-${STATUS_CLASS[s] ?? "muted"}">${s.replaceAll("_", " ")}</span>`;
}

export function relative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  const abs = Math.abs(seconds);
  const [value, unit] =
    abs < 60
      ? [abs, "s"]
      : abs < 3600
        ? [Math.floor(abs / 60), "min"]
        : abs < 86_400
          ? [Math.floor(abs / 3600), "h"]
          : [Math.floor(abs / 86_400), "d"];
  return seconds >= 0 ? `${value} ${unit} ago` : `in ${value} ${unit}`;
}

export function timeView(iso: string | null | undefined, now = Date.now()): TemplateResult {
  if (!iso) return html`<span class="muted">—</span>`;
  return html`<time datetime=${iso} title=${new Date(iso).toLocaleString()}>${relative(iso, now)}</time>`;
}

/** "12:04 left", "expired": fixed-width digits, so the countdown never moves what is around it. */
export function countdown(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "no expiry";
  const left = Math.floor((Date.parse(iso) - now) / 1000);
  if (left <= 0) return "expired";
  const h = Math.floor(left / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = left % 60;
  const mmss = `${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
  return `${h > 0 ? `${h}:${mmss}` : mmss} left`;
}

export function jsonView(value: unknown): TemplateResult {
  return html`<pre class="json" tabindex="0">${JSON.stringify(value, null, 2)}</pre>`;
}

export function shortHash(hash: string | null | undefined, n = 12): string {
  return hash ? `${hash.slice(0, n)}…` : "—";
}

export function actorName(actor: unknown): string {
  if (typeof actor === "object" && actor !== null) {
    const a = actor as { id?: unknown; display_name?: unknown; kind?: unknown };
    if (typeof a.display_name === "string") return a.display_name;
    if (typeof a.id === "string")
      return a.kind === "user" || a.kind === undefined ? a.id : `${a.id} (${String(a.kind)})`;
  }
  return "—";
}

/** Runs `work` and keeps its problem for the view; resolves to null on failure. */
export async function attempt<T>(
  work: () => Promise<T>,
  onProblem: (problem: Problem | null) => void,
  toProblem: (error: unknown) => Problem,
): Promise<T | null> {
  try {
    const result = await work();
    onProblem(null);
    return result;
  } catch (error) {
    onProblem(toProblem(error));
    return null;
  }
}

/** A datetime-local value (local time, minutes) for an ISO time, and back. */
export function toLocalInput(iso: string | null): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
