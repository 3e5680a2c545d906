/**
 * The NATS connection of a Wheelhouse process and the credentials it presents.
 *
 * Credentials, first that applies:
 * 1. `nats.credentials`: a secret reference to a `.creds` file (user JWT and seed, for a server in
 *    operator mode) or to a user nkey seed (`SU…`, for a server listing nkey users).
 * 2. `nats.user` with `nats.password` (a secret reference).
 * 3. The embedded profile only: what `scripts/infra up` wrote for the local stack,
 *    `<data_dir>/nats/auth/<process>.nk` (a service run alone as its own user), else
 *    `<data_dir>/nats/auth/embedded.nk` (every service in one process), when the file is there.
 * 4. None.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  type Authenticator,
  type ConnectionOptions,
  connect,
  credsAuthenticator,
  type NatsConnection,
  nkeyAuthenticator,
  usernamePasswordAuthenticator,
} from "@nats-io/transport-node";
import { type Config, requireSecret } from "../config/index.ts";
import { ConfigError, ForbiddenError, UnauthenticatedError, UnavailableError } from "../errors/index.ts";
import { permissionViolation } from "../eventstore/index.ts";
import type { Logger } from "../log/index.ts";

/** Where `scripts/infra up` writes the local stack's nkey seeds, under the data directory. */
export const LOCAL_NATS_AUTH_DIR = join("nats", "auth");

export interface NatsCredentials {
  readonly authenticator: Authenticator;
  /** Where they came from, for messages (a reference or a user name, never the secret). */
  readonly source: string;
}

/** The credentials this process presents, or `null` for none. Throws `ConfigError` on a bad setting. */
export function natsCredentials(config: Config, processName: string): NatsCredentials | null {
  const { credentials, user, password } = config.nats;
  if (credentials !== undefined && user !== undefined) {
    throw new ConfigError("nats.credentials and nats.user are both set", [
      {
        field: "nats.user",
        message: "two kinds of credentials",
        fix: "keep one: a credentials file, or a user and password",
      },
    ]);
  }
  if (credentials !== undefined) {
    return {
      authenticator: authenticatorFor(requireSecret(credentials, "nats.credentials"), credentials),
      source: credentials,
    };
  }
  if (user !== undefined) {
    const pass = requireSecret(password, "nats.password");
    return { authenticator: usernamePasswordAuthenticator(user, pass), source: `user ${user}` };
  }
  if (password !== undefined) {
    throw new ConfigError("nats.password is set without nats.user", [
      { field: "nats.user", message: "missing", fix: "set nats.user to the NATS user the password belongs to" },
    ]);
  }
  if (config.profile !== "embedded") return null;
  const dir = join(config.data_dir, LOCAL_NATS_AUTH_DIR);
  for (const name of [processName, "embedded"]) {
    const file = join(dir, `${name}.nk`);
    if (existsSync(file)) {
      const ref = `file:${file}` as const;
      return { authenticator: authenticatorFor(requireSecret(ref, "nats.credentials"), ref), source: ref };
    }
  }
  return null;
}

function authenticatorFor(secret: string, ref: string): Authenticator {
  // resolveSecret trims the file; the creds parser needs the newline after the last marker line.
  if (secret.includes("-----BEGIN NATS USER JWT-----"))
    return credsAuthenticator(new TextEncoder().encode(`${secret}\n`));
  if (/^SU[A-Z2-7]{56}$/.test(secret)) return nkeyAuthenticator(new TextEncoder().encode(secret));
  throw new ConfigError(`${ref} holds neither NATS user credentials nor a user nkey seed`, [
    {
      field: "nats.credentials",
      message: "not a .creds file or an nkey seed",
      fix: "point it at a .creds file (nsc generate creds) or a file holding one user seed (SU…)",
    },
  ]);
}

/**
 * What NATS refused, when `error` (or one of its causes) is a permissions violation: a
 * `ForbiddenError` naming the operation and the fix; otherwise `null`.
 */
export function refusedByNats(error: unknown, what: string): ForbiddenError | null {
  const e = permissionViolation(error);
  if (e === null) return null;
  return new ForbiddenError(`NATS refused ${what}: ${e.message}`, {
    cause: error,
    field: "nats.credentials",
    fix: "this process's NATS user may not do that (scripts/nats-auth.ts lists what each may publish): a service's own user cannot update a stream, so start once with the embedded user (`npm start`) to bring the streams to the configured settings, or connect with credentials that allow it",
  });
}

/**
 * Connects with the configured credentials, reconnecting forever. A refused login is an
 * `UnauthenticatedError` naming the credentials tried; an unreachable server an `UnavailableError`.
 * Publishes the server refuses (permissions) are logged with their subject.
 */
export async function connectNats(config: Config, processName: string, log: Logger): Promise<NatsConnection> {
  const credentials = natsCredentials(config, processName);
  const options: ConnectionOptions = {
    // Every server listed: the first reachable one is used, and on a disconnect the client moves to
    // another, listed or announced by the cluster, for ever. A seed that is down at start-up is
    // dropped from the list but comes back through the cluster's announcements when it rejoins.
    servers: [...config.nats.url],
    name: `wheelhouse-${processName}`,
    maxReconnectAttempts: -1,
    // The next server is tried at once; one tried within this long is left for this long (the
    // client's default, 2 s, delays moving off a killed node as long as a stream leader election).
    reconnectTimeWait: 500,
    // A node that vanishes without closing its connections (a host lost, a partition) is noticed
    // after two unanswered pings: 30 s instead of the client's default 4 minutes.
    pingInterval: 15_000,
    maxPingOut: 2,
    // Every request (each append) would otherwise build two Error objects up front for their stack
    // traces, a tenth of the gateway's CPU per POST in its profile; failures keep message and cause.
    noAsyncTraces: true,
    ...(credentials ? { authenticator: credentials.authenticator } : {}),
  };
  const where = config.nats.url.join(", ");
  let nc: NatsConnection;
  try {
    nc = await connect(options);
  } catch (cause) {
    if ((cause as Error)?.name === "AuthorizationError") {
      throw new UnauthenticatedError(
        credentials
          ? `NATS at ${where} refused the credentials in ${credentials.source}`
          : `NATS at ${where} requires credentials and none are configured`,
        {
          cause,
          field: "nats.credentials",
          fix: "with the local stack, run `scripts/infra up` (it writes .data/nats/auth/<user>.nk); otherwise set WHEELHOUSE_NATS__CREDENTIALS=file:/path/to/user.creds (or an nkey seed file) for a user of that server",
        },
      );
    }
    throw new UnavailableError(`cannot reach NATS at ${where}: ${(cause as Error).message}`, {
      cause,
      field: "nats.url",
      fix: "start the local stack with `scripts/infra up`, or set WHEELHOUSE_NATS__URL to your NATS 2.12+ servers (a comma-separated list: every node of a cluster)",
    });
  }
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type !== "error") continue;
      const error = status.error as Error & { operation?: string; subject?: string };
      if (error.name === "PermissionViolationError") {
        log.error(
          { operation: error.operation, subject: error.subject, credentials: credentials?.source ?? "none" },
          "NATS refused an operation these credentials are not allowed (see scripts/nats-auth.ts)",
        );
      }
    }
  })();
  return nc;
}
