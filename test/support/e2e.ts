/**
 * The whole system for the end-to-end tier, as a user runs and configures it: the embedded process
 * (`startEmbedded`: a child process with its own NATS prefix, schema, task queue, buckets, data
 * directory and ports) started with a config file the test writes, whose connectors point at local
 * fixtures (a Grafana speaking its HTTP API, the local Prometheus), with the fixture CLIs
 * (test/fixtures/bin: argocd, vault, boundary) first on the tool router's PATH, and the demo shop
 * in the local cluster. Then only what a user has: tokens from the sign-in page or `npm run token`,
 * the HTTP API and webhooks, the CLI, and kubectl/helm to look.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { stringify } from "yaml";
import { type GrafanaFixture, startGrafanaFixture } from "../fixtures/grafana/server.ts";
import { type EmbeddedSystem, startEmbedded } from "./embedded.ts";
import { FIXTURE_BIN, recordedArgv } from "./fixture-bin.ts";
import { signIn } from "./sign-in.ts";
import { waitFor } from "./wait.ts";

const root = join(import.meta.dirname, "..", "..");

/** The local Prometheus `scripts/infra up` runs (scripts/env.sh: WH_PROMETHEUS_PORT). */
export const PROMETHEUS_URL = `http://127.0.0.1:${process.env.WH_PROMETHEUS_PORT ?? "9422"}`;

/**
 * `connectors.prometheus.error_ratio` for e2e runs: measured 3 times 2 s apart after 2 s, over a
 * 30 s window; a scenario overrides it through `config`.
 */
export const FAST_ERROR_RATIO = {
  rate_window: "30s",
  initial_delay_seconds: 2,
  interval_seconds: 2,
  count: 3,
} as const;

/** The token the Grafana fixture accepts (a service account token, as Grafana issues them). */
export const GRAFANA_TOKEN = "glsa_e2e_fixture_token_0123456789abcdef";

/** Where a plan ends without running (the plans read model's statuses). */
const PLAN_ENDS: readonly string[] = ["failed", "rejected", "denied", "expired"];

/**
 * Where an execution ends (projections' ExecutionViewStatus). Not `verification_failed`,
 * `rolling_back` or `rolled_back`: those are on the way to `failed` (the engine ends every run with
 * execution.succeeded, failed or cancelled), and a test reading them would miss the rollback.
 */
export const TERMINAL_EXECUTION = ["succeeded", "failed", "cancelled"] as const;

/** The development issuer's demo identities: alice operates, bob approves (sre), carol administers (security). */
export type DemoAccount = "alice" | "bob" | "carol";

/** `policies/data.json`'s `wheelhouse.config` (the fields tests change are read as they need). */
// biome-ignore lint/suspicious/noExplicitAny: the policy data is a large JSON document; tests edit a field or two
export type PolicyConfigData = Record<string, any>;

export interface E2eOptions {
  /** A Grafana fixture as `connectors.grafana` (default on). */
  readonly grafana?: boolean;
  /** The local Prometheus as `connectors.prometheus` (default on). */
  readonly prometheus?: boolean;
  /** `infra/demo-shop/install.sh` before the start (default on; idempotent). */
  readonly demoShop?: boolean;
  /** Edits the policy's data (written to a file named by `policy.data_path`), e.g. shorter approval TTLs. */
  readonly policy?: (config: PolicyConfigData) => void;
  /** More configuration, merged into the file over the harness's own sections. */
  readonly config?: Record<string, unknown>;
  /** More environment for the child (secrets the config names as `env:...`). */
  readonly env?: NodeJS.ProcessEnv;
}

/** An answer of the HTTP API: status, the parsed body (a problem+json on errors) and the text. */
export interface ApiResult<T> {
  readonly status: number;
  readonly body: T;
  readonly text: string;
}

/** What GET /v1/executions/{id} answers (the fields the scenarios read). */
export interface ExecutionView {
  readonly execution_id: string;
  readonly plan_id: string | null;
  readonly status: string;
  readonly reason: string | null;
  readonly correlation_id: string | null;
  readonly steps: unknown;
  readonly verification: unknown[];
  readonly tool_calls: ToolCallView[];
}

/** One tool call of an execution, as GET /v1/executions/{id} lists it. */
export interface ToolCallView {
  readonly step_id: string | null;
  readonly action_id: string | null;
  readonly argv: string[] | null;
  readonly dry_run: boolean | null;
  readonly status: string;
  readonly exit_code: number | null;
}

/** What GET /v1/plans/{id} answers (the fields the scenarios read). */
export interface PlanView {
  readonly plan_id: string;
  readonly status: string;
  readonly revision: number | null;
  readonly decision: string | null;
  readonly tier: string | null;
  readonly policy: {
    readonly reasons?: string[];
    readonly ttl_seconds?: number;
    readonly decided_at?: string;
    readonly expires_at?: string;
  } | null;
  readonly digest: string | null;
  readonly correlation_id: string | null;
  readonly steps: Record<string, unknown>[];
}

/** A problem+json answer (RFC 9457 with the project's `fix`). */
export interface Problem {
  readonly title?: string;
  readonly detail?: string;
  readonly field?: string;
  readonly fix?: string;
}

export interface E2eSystem extends EmbeddedSystem {
  /** The config file the process was started with (`WHEELHOUSE_CONFIG`). */
  readonly configPath: string;
  /** The Grafana fixture (its `requests` are what Wheelhouse sent), or null when off. */
  readonly grafana: GrafanaFixture | null;
  /** Every fixture CLI call the tool router made so far, the CLI's name first. */
  fixtureArgv(): string[][];
  /** An access token for a demo identity, through the sign-in page as the console gets one. */
  signIn(account: DemoAccount): Promise<string>;
  /** One call of the HTTP API with a bearer token; never throws on an HTTP error. */
  api<T = unknown>(bearer: string, method: string, path: string, body?: unknown): Promise<ApiResult<T>>;
  /** `wheelhouse plan <intent>`; the plan's id. */
  plan(bearer: string, intent: string): Promise<string>;
  /** Polls GET /v1/plans/{id} until `until` holds (default 30 s). */
  waitForPlan(
    bearer: string,
    planId: string,
    until: (plan: PlanView) => boolean,
    timeoutMs?: number,
  ): Promise<PlanView>;
  /** `wheelhouse execute <plan>`; the execution's id. */
  execute(bearer: string, planId: string): Promise<string>;
  /** Polls GET /v1/executions/{id} until it has ended (default 120 s). */
  waitForExecution(bearer: string, executionId: string, timeoutMs?: number): Promise<ExecutionView>;
}

/** Starts the system for an e2e scenario; `stop()` ends the process and removes what it made. */
export async function startE2eSystem(name: string, options: E2eOptions = {}): Promise<E2eSystem> {
  const dir = mkdtempSync(join(tmpdir(), `wh-e2e-${name}-`));
  const argvLog = join(dir, "fixture-argv.log");
  const grafana = options.grafana === false ? null : await startGrafanaFixture(GRAFANA_TOKEN);
  const cleanup = async () => {
    if (grafana) await grafana.close();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    if (options.demoShop !== false) await execa("bash", ["infra/demo-shop/install.sh"], { cwd: root });
    const config: Record<string, unknown> = {
      connectors: {
        ...(grafana ? { grafana: { url: grafana.url, token: "env:WH_E2E_GRAFANA_TOKEN" } } : {}),
        // Judged within seconds rather than the 2 minutes of the defaults (the local Prometheus scrapes every 2 s).
        ...(options.prometheus === false ? {} : { prometheus: { url: PROMETHEUS_URL, error_ratio: FAST_ERROR_RATIO } }),
      },
      // The fixture CLIs record their argv in the file WH_FIXTURE_ARGV_LOG names: the sandbox passes it on.
      tools: { env_allow: ["PATH", "HOME", "LANG", "TZ", "KUBECONFIG", "WH_FIXTURE_ARGV_LOG"] },
    };
    if (options.policy) {
      const data = JSON.parse(readFileSync(join(root, "policies", "data.json"), "utf8"));
      options.policy(data.wheelhouse.config);
      const dataPath = join(dir, "policy-data.json");
      writeFileSync(dataPath, JSON.stringify(data));
      config.policy = { data_path: dataPath };
    }
    const configPath = join(dir, "wheelhouse.yaml");
    writeFileSync(configPath, stringify(merge(config, options.config ?? {})));

    const system = await startEmbedded(
      name,
      {
        WHEELHOUSE_CONFIG: configPath,
        WH_FIXTURE_ARGV_LOG: argvLog,
        WH_E2E_GRAFANA_TOKEN: GRAFANA_TOKEN,
        ...options.env,
      },
      { pathFirst: [FIXTURE_BIN] },
    );

    const api = async <T>(bearer: string, method: string, path: string, body?: unknown): Promise<ApiResult<T>> => {
      const res = await fetch(`${system.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${bearer}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : null) as T, text };
    };

    return {
      ...system,
      configPath,
      grafana,
      fixtureArgv: () => recordedArgv(argvLog),
      signIn: async (account) => (await signIn(system.url, account)).access_token,
      api,
      async plan(bearer, intent) {
        const run = await system.cli(bearer, "plan", intent);
        const id = /^plan (\S+) requested/.exec(run.stdout)?.[1];
        if (run.exitCode !== 0 || !id)
          throw new Error(`wheelhouse plan exited ${run.exitCode}: ${run.stderr}${run.stdout}`);
        return id;
      },
      async waitForPlan(bearer, planId, until, timeoutMs = 30_000) {
        let last = "";
        let plan: PlanView;
        try {
          plan = await waitFor(
            `plan ${planId} to reach the expected state`,
            async () => {
              const res = await api<PlanView>(bearer, "GET", `/v1/plans/${planId}`);
              last = res.text;
              // A plan that ended elsewhere will not get there: stop at once and say why.
              return res.status === 200 && (until(res.body) || PLAN_ENDS.includes(res.body.status))
                ? res.body
                : undefined;
            },
            { timeoutMs, intervalMs: 250 },
          );
        } catch (error) {
          throw new Error(`${(error as Error).message}; the plan last read: ${last}`);
        }
        if (!until(plan)) throw new Error(`plan ${planId} ended ${plan.status} instead: ${last}`);
        return plan;
      },
      async execute(bearer, planId) {
        const run = await system.cli(bearer, "execute", planId);
        const id = /^execution (\S+) requested/.exec(run.stdout)?.[1];
        if (run.exitCode !== 0 || !id)
          throw new Error(`wheelhouse execute exited ${run.exitCode}: ${run.stderr}${run.stdout}`);
        return id;
      },
      async waitForExecution(bearer, executionId, timeoutMs = 120_000) {
        let last = "";
        try {
          return await waitFor(
            `execution ${executionId} to end`,
            async () => {
              const res = await api<ExecutionView>(bearer, "GET", `/v1/executions/${executionId}`);
              last = res.text;
              return res.status === 200 && (TERMINAL_EXECUTION as readonly string[]).includes(res.body.status)
                ? res.body
                : undefined;
            },
            { timeoutMs, intervalMs: 500 },
          );
        } catch (error) {
          throw new Error(`${(error as Error).message}; the execution last read: ${last}`);
        }
      },
      async stop() {
        try {
          await system.stop();
        } finally {
          await cleanup();
        }
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** `extra` over `base`, objects merged key by key (arrays and scalars replaced). */
function merge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isObject(current) && isObject(value) ? merge(current, value) : value;
  }
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
