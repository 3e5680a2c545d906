/**
 * The CLI's help: one entry per command (usage, arguments, options, examples), the
 * overview `wheelhouse --help` prints, and the closest command to a mistyped one.
 * Pure functions, so that the unit tests read them without a process.
 */

export interface CommandHelp {
  /** One line for the overview. */
  readonly summary: string;
  /** Usage lines, without the leading `wheelhouse `. */
  readonly usage: readonly string[];
  readonly arguments?: readonly (readonly [string, string])[];
  readonly options?: readonly (readonly [string, string])[];
  readonly examples: readonly string[];
}

const JSON_OPTION = ["--json", "print the API's JSON answer instead of text"] as const;

/** Every command the CLI runs, in the order of a change's life. */
export const COMMANDS = {
  plan: {
    summary: "ask for a change in words; prints the plan id",
    usage: ['plan "<change>" [--env <environment>] [--service <service>] [--json]'],
    arguments: [["<change>", 'what to change, in words: "scale checkout to 6 in staging"']],
    options: [
      ["--env <environment>", "the environment the change is for, when the words do not say"],
      ["--service <service>", "the service the change is for, when the words do not say"],
      JSON_OPTION,
    ],
    examples: ['wheelhouse plan "scale checkout to 6 in staging"', 'wheelhouse plan "restart cart" --env production'],
  },
  status: {
    summary: "a plan's state, steps, policy decision and approvals, and its executions",
    usage: ["status <plan-id> [--json]"],
    arguments: [["<plan-id>", "the id `wheelhouse plan` printed"]],
    options: [JSON_OPTION],
    examples: ["wheelhouse status 0198c1d2-…"],
  },
  approve: {
    summary: "approve (or deny) a plan's revision; someone other than its author",
    usage: [
      'approve <plan-id> [--revision <n>] [--digest <sha256>] [--deny] [--comment "<text>"] [--json]',
      'approve <plan-id> --break-glass --reason "<why it cannot wait>"',
    ],
    arguments: [["<plan-id>", "the plan to decide on"]],
    options: [
      ["--revision <n>", "the revision you reviewed (default: the plan's current one)"],
      [
        "--digest <sha256>",
        "the digest you reviewed (`status` shows it; default: the plan's current one, read just now); refused if the plan changed",
      ],
      ["--deny", "deny instead of approving"],
      ["--comment <text>", "why, kept in the audit trail"],
      ["--break-glass", "approve alone as a break-glass approver, where policy allows it; needs --reason"],
      ["--reason <text>", "why the break-glass approval cannot wait, kept in the audit trail"],
      JSON_OPTION,
    ],
    examples: [
      "wheelhouse approve 0198c1d2-…",
      'wheelhouse approve 0198c1d2-… --revision 2 --deny --comment "not during the sale"',
      'wheelhouse approve 0198c1d2-… --break-glass --reason "checkout is down; sre and security are paged"',
    ],
  },
  execute: {
    summary: "run an approved plan's revision",
    usage: ["execute <plan-id> [--revision <n>] [--json]"],
    arguments: [["<plan-id>", "an approved plan"]],
    options: [["--revision <n>", "the approved revision (default: the plan's current one)"], JSON_OPTION],
    examples: ["wheelhouse execute 0198c1d2-…"],
  },
  executions: {
    summary: "stop a running execution before its next step, or judge the verification it paused on",
    usage: [
      'executions cancel <execution-id> --reason "<why>" [--json]',
      'executions verdict <execution-id> pass|fail --reason "<why>" [--json]',
    ],
    arguments: [
      ["cancel", "ask the execution to stop; it records execution.cancelled, without rolling back what ran"],
      [
        "verdict",
        "judge the analysis a paused execution waits on (status paused): pass goes on, fail fails it and rolls back",
      ],
      ["<execution-id>", "the id `execute` printed (or `status` lists)"],
    ],
    options: [["--reason <text>", "why, kept in the audit trail (required)"], JSON_OPTION],
    examples: [
      'wheelhouse executions cancel 0198c1d2-…-r1 --reason "wrong cluster"',
      'wheelhouse executions verdict 0198c1d2-…-r1 pass --reason "no traffic at night: nothing to measure"',
    ],
  },
  audit: {
    summary: "the hash-chained audit trail: list, export, verify",
    usage: [
      "audit [--plan <id>] [--type <t>] [--actor <a>] [--from <time>] [--to <time>] [--service <s>] [--limit <n>] [--json]",
      "audit export [same filters] > trail.ndjson",
      "audit verify [--evidence] [--json]",
    ],
    arguments: [
      ["export", "stream every matching record as NDJSON, ending with the chain proof"],
      ["verify", "check the whole chain (admin); exits 1 when something does not verify"],
    ],
    options: [
      ["--plan <id>", "only this plan's records"],
      ["--type <t>", "only this event type, e.g. approval.granted"],
      ["--actor <a>", "only this actor's records"],
      ["--from <time>, --to <time>", "an RFC 3339 time range"],
      ["--service <s>", "only records about this service"],
      ["--limit <n>", "how many records to list (default 20)"],
      ["--evidence", "verify: also re-hash every stored evidence blob"],
      JSON_OPTION,
    ],
    examples: [
      "wheelhouse audit --plan 0198c1d2-…",
      "wheelhouse audit export --from 2025-01-01T00:00:00Z > trail.ndjson",
      "wheelhouse audit verify --evidence",
    ],
  },
  explain: {
    summary: "intent → plan → policy → approvals → tool calls, with evidence",
    usage: ["explain <plan-or-execution-id> [--verify-evidence] [--json]"],
    arguments: [["<plan-or-execution-id>", "a plan id or an execution id"]],
    options: [["--verify-evidence", "re-hash the evidence each step refers to"], JSON_OPTION],
    examples: ["wheelhouse explain 0198c1d2-…"],
  },
  help: {
    summary: "this overview, or one command's help",
    usage: ["help [<command>]", "<command> --help"],
    arguments: [["<command>", "a command named above"]],
    examples: ["wheelhouse help approve", "wheelhouse audit --help"],
  },
} as const satisfies Record<string, CommandHelp>;

export type CommandName = keyof typeof COMMANDS;

export const isCommand = (name: string): name is CommandName => Object.hasOwn(COMMANDS, name);

const ENVIRONMENT = [
  ["WHEELHOUSE_URL", "the API's base URL (default http://127.0.0.1:8320)"],
  [
    "WHEELHOUSE_TOKEN",
    "a bearer token; on a local setup: export WHEELHOUSE_TOKEN=$(npm run -s token -- --sub you --roles operator)",
  ],
] as const;

function table(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
}

/** What `wheelhouse --help` prints. */
export function overview(): string {
  const commands = Object.entries(COMMANDS).map(([name, help]) => [name, help.summary] as const);
  return [
    "wheelhouse: a client of the Wheelhouse API.",
    "",
    "Usage: wheelhouse <command> [arguments] [options]",
    "",
    "Commands:",
    ...table(commands),
    "",
    "Environment:",
    ...table(ENVIRONMENT),
    "",
    "Run `wheelhouse help <command>` (or `wheelhouse <command> --help`) for a command's arguments and examples.",
    "",
  ].join("\n");
}

/** What `wheelhouse help <command>` and `wheelhouse <command> --help` print. */
export function commandHelp(name: CommandName): string {
  const help: CommandHelp = COMMANDS[name];
  const lines = [`wheelhouse ${name}: ${help.summary}`, "", "Usage:", ...help.usage.map((u) => `  wheelhouse ${u}`)];
  if (help.arguments?.length) lines.push("", "Arguments:", ...table(help.arguments));
  if (help.options?.length) lines.push("", "Options:", ...table(help.options));
  lines.push("", "Examples:", ...help.examples.map((e) => `  ${e}`));
  if (name !== "help") lines.push("", "Environment:", ...table(ENVIRONMENT));
  return `${lines.join("\n")}\n`;
}

/** The command nearest to a mistyped one, when it is near enough to be what was meant. */
export function closestCommand(input: string): CommandName | null {
  let best: CommandName | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of Object.keys(COMMANDS) as CommandName[]) {
    const distance = name.startsWith(input.toLowerCase()) ? 0 : editDistance(input.toLowerCase(), name);
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  return bestDistance <= Math.max(2, Math.floor(input.length / 3)) ? best : null;
}

/** The error for a command the CLI does not have: its name and the closest command (the caller adds `--help`). */
export function unknownCommand(input: string): string {
  const closest = closestCommand(input);
  return `unknown command "${input}".${closest ? ` Did you mean \`wheelhouse ${closest}\`?` : ""}`;
}

/** Levenshtein distance, for the "did you mean" hint. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
