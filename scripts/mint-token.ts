/**
 * Mints an API access token from the local development issuer (gateway.auth.mode: dev), the
 * oidc-provider the gateway mounts at /dev-issuer: the provider's own access-token model and
 * signing key, for any subject and roles, without a browser.
 *
 *   node --import tsx scripts/mint-token.ts --sub alice --roles operator,approver [--groups sre] [--ttl 3600] [--email a@example.com]
 *
 * The keys live under <data_dir>/dev-issuer/ and are created on first use; the gateway serves the
 * matching JWKS at /dev-issuer/.well-known/jwks.json. People sign in to the console there too.
 * Prints the token alone on stdout, so `export WHEELHOUSE_TOKEN=$(...)` works.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as v from "valibot";
import { RoleSchema } from "../events/index.ts";
import { loadDevIssuer } from "../lib/auth/index.ts";
import { loadConfig } from "../lib/config/index.ts";

const { values } = parseArgs({
  options: {
    sub: { type: "string" },
    roles: { type: "string", default: "viewer" },
    groups: { type: "string", default: "" },
    ttl: { type: "string", default: "3600" },
    email: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});

if (values.help || !values.sub) {
  process.stderr.write(
    "usage: mint-token --sub <user> [--roles operator,approver] [--groups sre,security] [--ttl seconds] [--email addr]\n",
  );
  process.exit(values.help ? 0 : 2);
}

const roles = (values.roles ?? "").split(",").filter(Boolean);
const parsed = v.safeParse(v.array(RoleSchema), roles);
if (!parsed.success) {
  process.stderr.write(`--roles: each role must be one of viewer, operator, approver, admin (got ${values.roles})\n`);
  process.exit(2);
}
const groups = (values.groups ?? "").split(",").filter(Boolean);
const badGroup = groups.find((g) => !/^[a-z0-9][a-z0-9_.-]{0,63}$/.test(g));
if (badGroup !== undefined) {
  process.stderr.write(`--groups: "${badGroup}" is not a lowercase group name (such as sre, security, break-glass)\n`);
  process.exit(2);
}
const ttl = Number(values.ttl);
if (!Number.isInteger(ttl) || ttl < 60 || ttl > 86_400) {
  process.stderr.write("--ttl: whole seconds between 60 and 86400\n");
  process.exit(2);
}

const config = loadConfig();
const auth = config.gateway.auth;
if (auth.mode !== "dev") {
  process.stderr.write(
    "warning: gateway.auth.mode is not dev; the gateway will not accept this token (set WHEELHOUSE_GATEWAY__AUTH__MODE=dev)\n",
  );
}
const issuer = await loadDevIssuer(join(config.data_dir, "dev-issuer"), auth.issuer, { auth });
const token = await issuer.mint({
  sub: values.sub,
  roles: parsed.output,
  audience: auth.audience,
  rolesClaim: auth.roles_claim,
  roleMap: auth.role_map,
  groups,
  groupsClaim: auth.groups_claim,
  ttlSeconds: ttl,
  email: values.email,
});
process.stdout.write(`${token}\n`);
