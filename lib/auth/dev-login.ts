/**
 * The development issuer's interactions: `GET <issuer>/interaction/:uid` shows the login page,
 * `POST <issuer>/interaction/:uid/login` (`account=alice`) signs the demo identity in and grants
 * the first-party client what it asked for (openid scopes and the API's scope), so no consent
 * screen follows. A consent prompt that comes up later (a new scope) is granted the same way.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type Provider from "oidc-provider";
import { API_RESOURCE, API_SCOPE } from "./dev-clients.ts";
import { DEMO_IDENTITIES, demoIdentity, errorPage, loginPage, PAGE_CSP } from "./dev-pages.ts";

const OIDC_SCOPES = new Set(["openid", "profile", "email", "offline_access"]);
const MAX_FORM_BYTES = 4096;

type Interaction = Awaited<ReturnType<Provider["interactionDetails"]>>;

function sendPage(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "content-security-policy": PAGE_CSP,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  });
  res.end(html);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) throw new Error(`the form is larger than ${MAX_FORM_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

/** The grant for what the request asked: its openid scopes, and the API's scope for the API resource. */
async function grantRequested(provider: Provider, interaction: Interaction, accountId: string): Promise<string> {
  const clientId = String(interaction.params.client_id);
  const grant =
    (interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined) ??
    new provider.Grant({ accountId, clientId });
  const requested = String(interaction.params.scope ?? "").split(" ");
  grant.addOIDCScope(requested.filter((s) => OIDC_SCOPES.has(s)));
  if (requested.includes(API_SCOPE)) grant.addResourceScope(API_RESOURCE, API_SCOPE);
  const details = interaction.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope);
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [resource, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(resource, scopes);
  }
  return grant.save();
}

/** Serves one interaction request (`/interaction/:uid`, `/interaction/:uid/login`) under the issuer's `path`. */
export async function handleInteraction(
  provider: Provider,
  { path, req, res }: { path: string; req: IncomingMessage; res: ServerResponse },
): Promise<void> {
  const mount = path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const match = new RegExp(`^${mount}/interaction/([\\w-]+)(/login)?$`).exec((req.url ?? "").split("?")[0] ?? "");
  try {
    if (!match) return sendPage(res, 404, errorPage({ error: "not_found", error_description: "no such page" }));
    let interaction: Interaction;
    try {
      interaction = await provider.interactionDetails(req, res);
    } catch {
      return sendPage(
        res,
        400,
        errorPage({
          error: "interaction_expired",
          error_description: "this sign-in has expired or was started in another browser; start again from the console",
        }),
      );
    }
    if (interaction.uid !== match[1]) {
      return sendPage(res, 400, errorPage({ error: "invalid_request", error_description: "not this sign-in's page" }));
    }
    const client = await provider.Client.find(String(interaction.params.client_id));
    if (interaction.prompt.name === "consent") {
      const accountId = interaction.session?.accountId ?? "";
      const grantId = await grantRequested(provider, interaction, accountId);
      return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    }
    if (req.method === "GET") {
      return sendPage(
        res,
        200,
        loginPage(`${path}/interaction/${interaction.uid}/login`, client?.clientName ?? "Wheelhouse"),
      );
    }
    if (req.method !== "POST" || !match[2]) {
      return sendPage(res, 405, errorPage({ error: "invalid_request", error_description: "post the login form" }));
    }
    const account = (await readForm(req)).get("account") ?? "";
    const person = demoIdentity(account);
    if (!person) {
      return sendPage(
        res,
        400,
        errorPage({
          error: "unknown_account",
          error_description: `no demo identity "${account}"; choose one of ${DEMO_IDENTITIES.map((p) => p.id).join(", ")}`,
        }),
      );
    }
    const grantId = await grantRequested(provider, interaction, person.id);
    return provider.interactionFinished(
      req,
      res,
      { login: { accountId: person.id }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  } catch (error) {
    if (res.headersSent) {
      res.destroy(error as Error);
      return;
    }
    sendPage(res, 500, errorPage({ error: "server_error", error_description: (error as Error).message }));
  }
}
