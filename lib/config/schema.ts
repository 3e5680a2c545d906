/**
 * The configuration schema. Every field has a default that makes the embedded
 * profile (one machine, local NATS/Postgres/Temporal/MinIO started by
 * `scripts/infra`) work with no file at all.
 *
 * Secrets are never literal values: a `SecretRef` is `env:NAME` or
 * `file:/path`, resolved at the point of use by `resolveSecret`.
 */
import * as v from "valibot";
import { RoleSchema } from "../../events/index.ts";
import { ApprovalsConfigSchema, ChatOpsConfigSchema } from "./approvals.ts";
import { ConnectorsConfigSchema } from "./connectors.ts";
import { port, positiveInt, SecretRefSchema, url } from "./fields.ts";

export { ApprovalsConfigSchema, ChatOpsConfigSchema, type Identity, IdentitySchema } from "./approvals.ts";
export { ConnectorsConfigSchema } from "./connectors.ts";
export { type SecretRef, SecretRefSchema } from "./fields.ts";

export const GatewayConfigSchema = v.strictObject({
  host: v.optional(v.string(), "127.0.0.1"),
  port: v.optional(port, 8320),
  /** Largest request body accepted, in bytes; larger bodies get 413. */
  body_limit_bytes: v.optional(positiveInt, 1_048_576),
  /** Commands per actor per minute before 429. */
  rate_limit_per_minute: v.optional(positiveInt, 600),
  /** How long `Prefer: wait=N` may hold a command for read-your-writes, at most. */
  max_wait_ms: v.optional(positiveInt, 10_000),
  /**
   * Failed authentications (bad or missing token, wrong webhook credentials) per client address per
   * minute; past it the address gets 429 until its bucket refills, whatever it sends.
   */
  auth_failures_per_minute: v.optional(positiveInt, 60),
  auth: v.optional(
    v.strictObject({
      /**
       * `oidc` verifies JWTs from `issuer`; `dev` verifies tokens of the local development issuer
       * (`npm run token`). Unset: `dev` in the embedded profile, `oidc` in production.
       */
      mode: v.optional(v.picklist(["oidc", "dev"])),
      issuer: v.optional(v.string(), "http://127.0.0.1:8320/dev-issuer"),
      audience: v.optional(v.string(), "wheelhouse"),
      jwks_url: v.optional(v.string()),
      algorithms: v.optional(v.array(v.picklist(["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"])), [
        "RS256",
        "ES256",
        "EdDSA",
      ]),
      clock_skew_seconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(300)), 30),
      /**
       * Oldest token accepted, in seconds since its `iat`; a token whose lifetime (`exp` - `iat`) is
       * longer is refused outright. Default one day, the longest `npm run token` mints.
       */
      max_token_age_seconds: v.optional(
        v.pipe(v.number(), v.integer(), v.minValue(60), v.maxValue(7 * 24 * 60 * 60)),
        24 * 60 * 60,
      ),
      /** `dev` only: seconds a console sign-in's access token lives (refreshed before; short in tests). */
      dev_access_token_ttl_seconds: v.optional(
        v.pipe(v.number(), v.integer(), v.minValue(10), v.maxValue(86_400)),
        600,
      ),
      roles_claim: v.optional(v.string(), "groups"),
      /** Claim value → Wheelhouse role. */
      role_map: v.optional(v.record(v.string(), RoleSchema), {
        "wheelhouse-viewers": "viewer",
        "wheelhouse-operators": "operator",
        "wheelhouse-approvers": "approver",
        "wheelhouse-admins": "admin",
      }),
      /**
       * Claim holding the person's approver groups (policy's quorum names them: `sre`, `security`,
       * `break-glass`); may be the roles claim (a value can then be a role and a group).
       */
      groups_claim: v.optional(v.string(), "groups"),
      /** Claim value → approver group. Empty: every plain lowercase value of the claim is a group as it is. */
      group_map: v.optional(
        v.record(
          v.string(),
          v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, "must be a lowercase group name")),
        ),
        {},
      ),
    }),
    {},
  ),
  webhooks: v.optional(
    v.strictObject({
      alertmanager_token: v.optional(SecretRefSchema),
      argocd_secret: v.optional(SecretRefSchema),
      github_secret: v.optional(SecretRefSchema),
      gitlab_token: v.optional(SecretRefSchema),
    }),
    {},
  ),
});

/**
 * The NATS servers to connect to: one URL, a YAML list of them, or a comma-separated string
 * (`WHEELHOUSE_NATS__URL=nats://a:4222,nats://b:4222`). Every process should list several servers of
 * a cluster, so that it can start with any one of them down; it reconnects across all of them (and
 * the ones the cluster tells it about).
 */
const natsServers = v.pipe(
  v.unknown(),
  v.check(
    (given) => typeof given === "string" || (Array.isArray(given) && given.every((s) => typeof s === "string")),
    "must be a server URL, or several: a comma-separated string or a YAML list of URLs",
  ),
  v.transform((given) =>
    (typeof given === "string" ? given.split(",") : (given as string[])).map((s) => s.trim()).filter((s) => s !== ""),
  ),
  v.check((list) => list.length > 0, "must name at least one server, such as nats://127.0.0.1:4222"),
  v.check(
    (list) => list.every((s) => URL.canParse(s)),
    (issue) =>
      `must be absolute URLs such as nats://127.0.0.1:4222; not one: ${(issue.input as string[]).filter((s) => !URL.canParse(s)).join(", ")}`,
  ),
);

export const NatsConfigSchema = v.strictObject({
  url: v.optional(natsServers, "nats://127.0.0.1:4322"),
  /** Prefix of every stream and subject; tests use their own to isolate themselves. */
  prefix: v.optional(
    v.pipe(v.string(), v.regex(/^[a-z][a-z0-9_]*$/, "must be lower-case letters, digits and _")),
    "wh",
  ),
  /**
   * Durability of the audit-critical event stream. `always` fsyncs every write
   * before the ack; `interval` uses the server's sync interval (faster, can
   * lose acknowledged writes on power loss). See docs/architecture.md.
   */
  events_sync: v.optional(v.picklist(["always", "interval"]), "always"),
  /**
   * Replicas of every stream, KV bucket and durable consumer Wheelhouse creates: 1 on one server, 3
   * on a cluster (any one node can then go down). Start-up refuses a smaller one and names the fix.
   */
  replicas: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(5)), 1),
  duplicate_window_ms: v.optional(positiveInt, 24 * 60 * 60 * 1000),
  /**
   * How long an event a process took stays with it without an ack before it goes to another (the
   * process was killed mid-handling); a handler still working extends it. Default 30 s, far above
   * what a handler takes (milliseconds; seconds with an LLM).
   */
  ack_wait_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1000)), 30_000),
  /**
   * A `.creds` file (user JWT and seed) or a user nkey seed (`SU…`). Unset in the embedded profile:
   * the local stack's `<data_dir>/nats/auth/<process>.nk`, else `embedded.nk` (lib/runtime/nats.ts).
   */
  credentials: v.optional(SecretRefSchema),
  /** User name for a server with user/password accounts; `password` is its secret reference. */
  user: v.optional(v.pipe(v.string(), v.minLength(1))),
  password: v.optional(SecretRefSchema),
});

export const StorageConfigSchema = v.strictObject({
  postgres_url: v.optional(v.string(), "postgres://postgres@127.0.0.1:5432/wheelhouse"),
  /**
   * Commit read-model batches with `synchronous_commit = on`. Off by default: a Postgres crash can
   * then lose the last batches' rows and checkpoint together, which are re-projected from the
   * stream (nothing is lost, a reader may briefly see older rows).
   */
  projector_durable_commit: v.optional(v.boolean(), false),
  /**
   * When the events stream is not the one the read models were projected from (it was deleted and
   * created again: `.data/` removed, a fresh server), empty the read models and project the new
   * stream from its start. Off: the projector refuses to start and names the fix. `npm start`
   * turns it on, so that deleting `.data/` starts over.
   */
  projector_rebuild_on_stream_change: v.optional(v.boolean(), false),
  /** Postgres schema holding the read models; tests use their own. */
  postgres_schema: v.optional(v.pipe(v.string(), v.regex(/^[a-z_][a-z0-9_]*$/)), "public"),
  evidence: v.optional(
    v.strictObject({
      kind: v.optional(v.picklist(["local", "s3"]), "local"),
      path: v.optional(v.string(), ".data/evidence"),
      endpoint: v.optional(url, "http://127.0.0.1:9322"),
      bucket: v.optional(v.string(), "wheelhouse-evidence"),
      region: v.optional(v.string(), "us-east-1"),
      access_key: v.optional(SecretRefSchema, "env:WHEELHOUSE_S3_ACCESS_KEY"),
      secret_key: v.optional(SecretRefSchema, "env:WHEELHOUSE_S3_SECRET_KEY"),
      /** Object lock retention for evidence, in days (0 turns it off). */
      retention_days: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 30),
    }),
    {},
  ),
});

export const PolicyConfigSchema = v.strictObject({
  /** Compiled wasm bundle (`opa build -t wasm`), built by `scripts/setup`. */
  bundle_path: v.optional(v.string(), "policies/build/bundle.tar.gz"),
  /**
   * A data document (stages, environments, protected resources, bounds) that replaces the one
   * compiled into the bundle, for tuning without a rebuild; decisions then name its hash too.
   */
  data_path: v.optional(v.string()),
  /** Rollout stage 0–3; overrides the data document's stage. */
  stage: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(3))),
  /** Budget for one evaluation (over it: deny): far above a decision's µs, so a GC pause does not deny. */
  eval_timeout_ms: v.optional(positiveInt, 250),
  /** Watch the bundle file and reload it without a restart. */
  watch: v.optional(v.boolean(), true),
});

export const LLMProviderSchema = v.picklist(["none", "openai", "anthropic", "codex"]);

const LLMProviderConfigSchema = v.strictObject({
  provider: v.optional(LLMProviderSchema, "none"),
  api_base: v.optional(v.string()),
  model: v.optional(v.string()),
  api_key: v.optional(SecretRefSchema),
  timeout_ms: v.optional(positiveInt, 30_000),
  max_output_tokens: v.optional(positiveInt, 4096),
  /** Codex: auth profile file written by the Codex CLI, and the profile in it. */
  auth_path: v.optional(v.string()),
  auth_profile: v.optional(v.string()),
});

export const LLMConfigSchema = v.strictObject({
  ...LLMProviderConfigSchema.entries,
  max_retries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10)), 2),
  /** Extra regular expressions whose matches are redacted before anything leaves the process. */
  redact_patterns: v.optional(v.array(v.string()), []),
  /** Tried in order when the primary provider fails; the template planner is always last. */
  fallback: v.optional(v.array(LLMProviderConfigSchema), []),
});

export const OrchestratorConfigSchema = v.strictObject({
  temporal_address: v.optional(v.string(), "127.0.0.1:7322"),
  namespace: v.optional(v.string(), "default"),
  task_queue: v.optional(v.string(), "wheelhouse-executions"),
  /** Unset: the tool router of this configuration (`tools.router_host`:`tools.router_port`). */
  tool_router_url: v.optional(url),
  verification_timeout_ms: v.optional(positiveInt, 300_000),
  /**
   * Ed25519 private key (PEM) that signs the capability sent with each approved tool call. Unset in
   * the embedded profile: a per-process pair is made at start. Required when the tool router runs apart.
   */
  capability_signing_key: v.optional(SecretRefSchema),
});

export const ToolsConfigSchema = v.strictObject({
  router_host: v.optional(v.string(), "127.0.0.1"),
  router_port: v.optional(port, 8324),
  default_timeout_ms: v.optional(positiveInt, 120_000),
  max_output_bytes: v.optional(positiveInt, 8 * 1024 * 1024),
  /** Environment variables passed through to tool processes (besides per-tool credentials). */
  env_allow: v.optional(v.array(v.string()), ["PATH", "HOME", "LANG", "TZ", "KUBECONFIG"]),
  /** Per-CLI credentials: environment variable name → secret reference. */
  credentials: v.optional(v.record(v.string(), v.record(v.string(), SecretRefSchema)), {}),
  /** Bearer token callers of the tool router must present; unset on a loopback-only embedded setup. */
  router_token: v.optional(SecretRefSchema),
  /**
   * Ed25519 public key (PEM) the tool router checks call capabilities with: the public half of
   * `orchestrator.capability_signing_key`. Unset in the embedded profile; a router started alone needs it.
   */
  capability_verify_key: v.optional(SecretRefSchema),
  /**
   * Where a plan's secret references (`vault.kv_put` `data_refs`) may read from: `env:NAME`,
   * `env:PREFIX*`, `file:/dir/*`. A plan cannot name anything else, so a steered planner cannot copy
   * the router's own credentials into a secret store. The default is the template planner's
   * rotation variables.
   */
  secret_sources: v.optional(
    v.array(
      v.pipe(
        v.string(),
        v.regex(/^(env:[A-Za-z_][A-Za-z0-9_]*\*?|file:\/.+)$/, "must be env:NAME, env:PREFIX* or file:/path(*)"),
      ),
    ),
    ["env:WH_ROTATE_*"],
  ),
  /** Folders a tool input may name as a file (Helm values, manifests). */
  allowed_paths: v.optional(v.array(v.string()), []),
  /**
   * Bucket of the object store (storage.evidence's endpoint and keys) where the tool router keeps
   * artifacts it makes, e.g. the live objects a kubectl.apply's rollback applies again; created when missing.
   */
  artifact_bucket: v.optional(
    v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/)),
    "wheelhouse-artifacts",
  ),
  /**
   * How the tool router runs sandbox-exec. `host`: a pool of `hosts` long-lived sandbox-exec
   * processes, each serving many calls at once and replaced after `recycle_after_calls` calls (no
   * Node start per call); `process_per_call`: a new sandbox-exec process for every call, the
   * strictest isolation, at about 0.3 s of CPU more per call. In both, each CLI runs in its own
   * process group with a clean environment and a private 0700 work dir.
   */
  sandbox: v.optional(
    v.strictObject({
      mode: v.optional(v.picklist(["host", "process_per_call"]), "host"),
      hosts: v.optional(
        v.pipe(v.number(), v.integer("must be a whole number such as 2"), v.minValue(1), v.maxValue(32)),
        2,
      ),
      recycle_after_calls: v.optional(
        v.pipe(v.number(), v.integer("must be a whole number such as 500"), v.minValue(1)),
        500,
      ),
    }),
    {},
  ),
});

/** The context service: the cluster it watches, and the AWS and Grafana sources it polls. */
export const ContextConfigSchema = v.strictObject({
  /**
   * Kubeconfig of the cluster to watch. Unset: the local stack's `<data_dir>/kube/config` when it
   * exists, else `$KUBECONFIG`; neither: the context service stays idle and /readyz says so.
   */
  kubeconfig: v.optional(v.string()),
  /** Where its RPC (RefreshContext, GetServiceGraph) and /readyz listen. */
  host: v.optional(v.string(), "127.0.0.1"),
  port: v.optional(port, 8326),
  /** Server-side watch timeout: each watch ends with a bookmark and resumes; below the client's 30 s idle limit. */
  watch_timeout_seconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(5), v.maxValue(29)), 25),
  /** Bound on each list page. */
  request_timeout_ms: v.optional(positiveInt, 30_000),
  /** A full rebuild at least this often (a failed append is retried there). */
  resync_ms: v.optional(positiveInt, 30_000),
  aws: v.optional(
    v.strictObject({
      enabled: v.optional(v.boolean(), false),
      region: v.optional(v.string(), "us-east-1"),
      /** Another endpoint speaking the Resource Groups Tagging API (a local one in tests). */
      endpoint: v.optional(url),
      access_key_id: v.optional(SecretRefSchema, "env:AWS_ACCESS_KEY_ID"),
      secret_access_key: v.optional(SecretRefSchema, "env:AWS_SECRET_ACCESS_KEY"),
      session_token: v.optional(SecretRefSchema),
      /** `service[:type]` filters such as `rds:db`; every type when empty. */
      resource_types: v.optional(v.array(v.string()), []),
      /** Only resources with one of these tag keys. */
      tag_keys: v.optional(v.array(v.string()), []),
      poll_interval_ms: v.optional(positiveInt, 60_000),
      poll_timeout_ms: v.optional(positiveInt, 10_000),
    }),
    {},
  ),
  /** Datasources from `connectors.grafana` (url, token), polled when its url is set. */
  grafana: v.optional(
    v.strictObject({
      poll_interval_ms: v.optional(positiveInt, 60_000),
      poll_timeout_ms: v.optional(positiveInt, 10_000),
    }),
    {},
  ),
});

export const LogConfigSchema = v.strictObject({
  level: v.optional(v.picklist(["trace", "debug", "info", "warn", "error", "fatal", "silent"]), "info"),
  format: v.optional(v.picklist(["json", "pretty", "auto"]), "auto"),
});

export const ConfigObjectSchema = v.strictObject({
  /** `embedded` runs every service in one process against the local stack. */
  profile: v.optional(v.picklist(["embedded", "production"]), "embedded"),
  /** Directory for local state (NATS, Temporal, MinIO, evidence). */
  data_dir: v.optional(v.string(), ".data"),
  /**
   * How long a stopping process may drain (a tool call in flight, a projector batch) before it
   * exits anyway. Unset: `tools.default_timeout_ms` plus 10 s, so that a write in flight can finish.
   */
  drain_timeout_ms: v.optional(positiveInt),
  gateway: v.optional(GatewayConfigSchema, {}),
  nats: v.optional(NatsConfigSchema, {}),
  storage: v.optional(StorageConfigSchema, {}),
  policy: v.optional(PolicyConfigSchema, {}),
  llm: v.optional(LLMConfigSchema, {}),
  orchestrator: v.optional(OrchestratorConfigSchema, {}),
  tools: v.optional(ToolsConfigSchema, {}),
  connectors: v.optional(ConnectorsConfigSchema, {}),
  context: v.optional(ContextConfigSchema, {}),
  approvals: v.optional(ApprovalsConfigSchema, {}),
  chatops: v.optional(ChatOpsConfigSchema, {}),
  log: v.optional(LogConfigSchema, {}),
});

/** The document, with the defaults that depend on other fields filled in. */
export const ConfigSchema = v.pipe(
  ConfigObjectSchema,
  v.transform((config) => ({
    ...config,
    orchestrator: {
      ...config.orchestrator,
      tool_router_url:
        config.orchestrator.tool_router_url ?? `http://${config.tools.router_host}:${config.tools.router_port}`,
    },
    gateway: {
      ...config.gateway,
      auth: {
        ...config.gateway.auth,
        // The local development issuer is on only where the embedded profile turns it on.
        mode: config.gateway.auth.mode ?? (config.profile === "embedded" ? ("dev" as const) : ("oidc" as const)),
      },
    },
  })),
);

export type Config = v.InferOutput<typeof ConfigSchema>;
export type GatewayConfig = Config["gateway"];
export type NatsConfig = Config["nats"];
export type StorageConfig = Config["storage"];
export type PolicyConfig = Config["policy"];
export type LLMConfig = Config["llm"];
export type LLMProviderConfig = LLMConfig["fallback"][number];
export type OrchestratorConfig = Config["orchestrator"];
export type ToolsConfig = Config["tools"];
export type ConnectorsConfig = Config["connectors"];
export type ContextConfig = Config["context"];
export type ApprovalsConfig = Config["approvals"];
export type ChatOpsConfig = Config["chatops"];
export type LogConfig = Config["log"];
