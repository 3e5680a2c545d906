/**
 * The development issuer's pages: the demo identities a newcomer signs in as, the login page
 * (one button per identity, no password: the issuer is on only in dev mode), and the sign-out and
 * error pages the provider renders. Each page carries its own Content-Security-Policy: no script,
 * and its one inline style allowed by hash.
 */
import { createHash } from "node:crypto";
import type { Role } from "../../events/index.ts";

/** A person of the embedded profile's demo, with the roles and approver groups their token carries. */
export interface DemoIdentity {
  readonly id: string;
  readonly name: string;
  readonly email: string;
  readonly roles: readonly Role[];
  /** Approver groups (policy's quorum names them). */
  readonly groups: readonly string[];
}

/** alice asks for changes, bob approves them (sre), carol administers and approves security's share. */
export const DEMO_IDENTITIES: readonly DemoIdentity[] = [
  { id: "alice", name: "Alice", email: "alice@example.com", roles: ["operator"], groups: [] },
  { id: "bob", name: "Bob", email: "bob@example.com", roles: ["approver"], groups: ["sre"] },
  { id: "carol", name: "Carol", email: "carol@example.com", roles: ["admin"], groups: ["security"] },
];

export function demoIdentity(id: string): DemoIdentity | null {
  return DEMO_IDENTITIES.find((identity) => identity.id === id) ?? null;
}

const STYLE = [
  "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1b1f24}",
  "main{max-width:28rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px #0003}",
  "h1{font-size:1.4rem;margin:0 0 .5rem}",
  "p{margin:.5rem 0 1rem;color:#3d4450}",
  "button{display:block;width:100%;margin:.5rem 0;padding:.75rem 1rem;font:inherit;text-align:left;border:1px solid #8a94a6;border-radius:6px;background:#fff;color:inherit;cursor:pointer}",
  "button:hover,button:focus-visible{border-color:#0b5cd5;outline:2px solid #0b5cd5;outline-offset:1px}",
  "button span{display:block;font-size:.875rem;color:#3d4450}",
  "pre{white-space:pre-wrap;word-break:break-word}",
].join("");
const STYLE_HASH = createHash("sha256").update(STYLE).digest("base64");

/** The pages' policy: nothing but the inline style above; forms post to this origin only. */
export const PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${STYLE_HASH}'`,
  "img-src 'self' data:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join("; ");

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );
}

/** A whole page around `body` (already escaped HTML). */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main>${body}</main></body>
</html>
`;
}

/** The login page: one submit button per demo identity, posted to `action`. */
export function loginPage(action: string, clientName: string): string {
  const buttons = DEMO_IDENTITIES.map(
    (identity) =>
      `<button type="submit" name="account" value="${escapeHtml(identity.id)}">${escapeHtml(identity.id)}<span>${escapeHtml(
        [...identity.roles, ...identity.groups.map((g) => `group ${g}`)].join(", "),
      )}</span></button>`,
  ).join("");
  return page(
    "Sign in to Wheelhouse",
    `<h1>Sign in to Wheelhouse</h1>
<p>Development issuer: choose a demo identity to continue to ${escapeHtml(clientName)}. No password is asked; this issuer runs only in dev mode.</p>
<form method="post" action="${escapeHtml(action)}">${buttons}</form>`,
  );
}

/** RP-initiated logout's confirmation: the provider's hidden form, and the buttons that submit it. */
export function logoutPage(form: string): string {
  return page(
    "Sign out of Wheelhouse",
    `<h1>Sign out of Wheelhouse?</h1>${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`,
  );
}

export function signedOutPage(): string {
  return page("Signed out", "<h1>Signed out</h1><p>You have signed out of Wheelhouse.</p>");
}

export function errorPage(out: object): string {
  const lines = Object.entries(out)
    .map(([key, value]) => `<pre><strong>${escapeHtml(key)}</strong>: ${escapeHtml(String(value))}</pre>`)
    .join("");
  return page("Sign-in failed", `<h1>Sign-in failed</h1>${lines}<p><a href="/">Back to the console</a></p>`);
}
