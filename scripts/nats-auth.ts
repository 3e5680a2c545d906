/**
 * The NATS users of the local stack (`scripts/infra up`) and of `compose.yaml`: one nkey user per
 * service, an `embedded` user for the single-process profile, an `admin` user for tests and
 * operators, and no anonymous access.
 *
 *   node --import tsx scripts/nats-auth.ts <dir>
 *
 * Writes `<dir>/<user>.nk` (the user's nkey seed, mode 0600) for every user that has none yet, and
 * `<dir>/auth.conf` (the server's `authorization` block: public keys and permissions, mode 0600),
 * which the server's config includes. Seeds already there are kept, so running it again (every
 * `scripts/infra up`) leaves connected services valid and only refreshes the permissions.
 *
 * Events are stored on `<prefix>.evt.<aggregate>.<id>`, so a user may publish on the subjects of
 * the aggregates its service records events on (the prefix is a wildcard, so tests and other
 * prefixes work). Every event type of an aggregate shares its subject: NATS can keep the projector
 * away from `plan.*`, but not tell the planner's `plan.proposed` from the gateway's
 * `approval.granted`; that check belongs to the deciders. Only `embedded` and `admin` may update a
 * stream: a stream update could add sources or subjects to the events stream and so write to it.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { nkeys } from "@nats-io/transport-node";
import type { AggregateType } from "../events/envelope.ts";

/** The seed file of each user under the auth directory: `<user>.nk`. */
export const seedFileName = (user: string) => `${user}.nk`;

/** JetStream API a service needs at run time: reads, consumers, acks, creating a missing stream. */
const jetStreamUse = [
  "$JS.API.INFO",
  "$JS.API.STREAM.INFO.*",
  "$JS.API.STREAM.NAMES",
  "$JS.API.STREAM.LIST",
  "$JS.API.STREAM.MSG.GET.*",
  "$JS.API.DIRECT.GET.>",
  "$JS.API.STREAM.CREATE.*",
  "$JS.API.CONSUMER.>",
  "$JS.ACK.>",
];
/** Bringing an existing stream to the configured settings (`store.provision()` after a change). */
const streamUpdate = ["$JS.API.STREAM.UPDATE.*"];

const events = (...aggregates: AggregateType[]) => aggregates.map((a) => `*.evt.${a}.*`);
const output = (...aggregates: AggregateType[]) => aggregates.map((a) => `*.out.${a}.*`);
const deadLetters = ["*.dlq.>"];
/** NATS KV (the gateway's `<prefix>_idempotency` bucket, ChatOps's `<prefix>_chatops`). */
const keyValue = ["$KV.*.>"];
/** The gateway hands verified Linear webhooks to the approvals service (schemas/rpc/approvals.ts). */
const linearHandoff = ["*.approvals.linear.webhook"];

export interface NatsUser {
  /** What it is for, written above it in auth.conf. */
  readonly description: string;
  /** Subjects it may publish to; everything else is refused. */
  readonly publish: readonly string[];
  /** May answer the requests it receives (`allow_responses`: a reply only to the inbox of a request it got). */
  readonly allowResponses?: true;
}

/**
 * Who may publish what. Which service records which event types: see `store.append` in
 * services/<name>; `evidence.stored` goes on the aggregate it documents (plan or execution).
 */
export const natsUsers = {
  gateway: {
    description:
      "plan.requested, approval.*, execution.requested, signal.received; idempotency KV; Linear webhook hand-off",
    publish: [...events("plan", "execution", "signal"), ...keyValue, ...linearHandoff, ...jetStreamUse],
  },
  planner: {
    description: "plan.requested (alerts), plan.proposed, plan.failed, evidence.stored (plan)",
    publish: [...events("plan"), ...deadLetters, ...jetStreamUse],
  },
  policy: {
    description: "policy.decided",
    publish: [...events("plan"), ...deadLetters, ...jetStreamUse],
  },
  orchestrator: {
    description:
      "execution.* and their evidence.stored; execution.requested started by policy; plan.write_authorized (each write's authorisation, guarded on the plan's version)",
    publish: [...events("plan", "execution"), ...deadLetters, ...jetStreamUse],
  },
  "tool-router": {
    description: "tool_call.*, evidence.stored (execution), output chunks",
    publish: [...events("execution"), ...output("execution"), ...jetStreamUse],
  },
  context: {
    description: "context.* (the service graph: nodes and edges)",
    publish: [...events("context"), ...jetStreamUse],
  },
  approvals: {
    description:
      "approval.requested, approval.granted/denied from Linear; answers the gateway's Linear webhook hand-offs",
    publish: [...events("plan"), ...deadLetters, ...jetStreamUse],
    allowResponses: true,
  },
  chatops: {
    description: "where each plan's Slack message is (KV); its people's approvals go through the gateway's API",
    publish: [...keyValue, ...deadLetters, ...jetStreamUse],
  },
  projector: {
    description: "dead letters only",
    publish: [...deadLetters, ...jetStreamUse],
  },
  embedded: {
    description: "every service in one process (services/wheelhouse, projector rebuild)",
    publish: [
      ...events("plan", "execution", "signal", "context"),
      ...output("execution"),
      ...deadLetters,
      ...keyValue,
      ...linearHandoff,
      ...jetStreamUse,
      ...streamUpdate,
    ],
    allowResponses: true,
  },
  admin: {
    description: "tests and operators (nats CLI): everything",
    publish: [">"],
  },
} as const satisfies Record<string, NatsUser>;

export type NatsUserName = keyof typeof natsUsers;

/** The server's `authorization` block for these users' public keys. */
export function renderAuthConf(publicKeys: Readonly<Record<NatsUserName, string>>): string {
  const lines = [
    "# Written by scripts/nats-auth.ts (the permissions live there); included by nats.conf.",
    "# No anonymous access: there is no no_auth_user. Subscribing is not restricted.",
    "authorization {",
    "  users = [",
  ];
  for (const [name, user] of Object.entries(natsUsers) as [NatsUserName, NatsUser][]) {
    const allow = user.publish.map((s) => JSON.stringify(s)).join(", ");
    lines.push(`    # ${name}: ${user.description}`);
    const responses = user.allowResponses ? ", allow_responses: true" : "";
    lines.push(
      `    { nkey: ${JSON.stringify(publicKeys[name])}, permissions: { publish: { allow: [${allow}] }${responses} } }`,
    );
  }
  lines.push("  ]", "}", "");
  return lines.join("\n");
}

/**
 * Creates missing seeds and (re)writes auth.conf in `dir`. Returns the public key of each user.
 * Files are written 0600 in a 0700 directory; a seed that is not a user seed stops it.
 */
export function writeNatsAuth(dir: string): Record<NatsUserName, string> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const publicKeys = {} as Record<NatsUserName, string>;
  for (const name of Object.keys(natsUsers) as NatsUserName[]) {
    const file = join(dir, seedFileName(name));
    let seed: string;
    if (existsSync(file)) {
      seed = readFileSync(file, "utf8").trim();
    } else {
      seed = new TextDecoder().decode(nkeys.createUser().getSeed());
      writePrivate(file, `${seed}\n`);
    }
    let pair: ReturnType<typeof nkeys.fromSeed>;
    try {
      pair = nkeys.fromSeed(new TextEncoder().encode(seed));
    } catch (cause) {
      throw new Error(`${file} does not hold an nkey seed; delete it to have a new one generated`, { cause });
    }
    if (!seed.startsWith("SU")) throw new Error(`${file} holds a seed that is not a user's (SU…); delete it`);
    chmodSync(file, 0o600);
    publicKeys[name] = pair.getPublicKey();
  }
  writePrivate(join(dir, "auth.conf"), renderAuthConf(publicKeys));
  return publicKeys;
}

function writePrivate(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (dir === undefined) {
    console.error("usage: node --import tsx scripts/nats-auth.ts <dir>");
    process.exit(2);
  }
  try {
    writeNatsAuth(dir);
  } catch (error) {
    console.error(`nats-auth: ${(error as Error).message}`);
    process.exit(1);
  }
}
