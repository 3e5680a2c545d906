/**
 * Configuration of the approval channels where people work: Linear issues
 * (`approvals.linear`, the approvals service) and Slack (`chatops.slack`, the
 * ChatOps service). Both map a person's email to one Wheelhouse identity
 * (`approvals.identities`), so that a person is the same approver in Linear,
 * in Slack and in the API. Each channel is off until it is configured.
 */
import * as v from "valibot";
import { RoleSchema } from "../../events/index.ts";
import { port, positiveInt, SecretRefSchema, url } from "./fields.ts";

const names = v.array(v.pipe(v.string(), v.minLength(1)));

/** One Wheelhouse identity: the id recorded as the approver, and its roles (an approver needs `approver`). */
export const IdentitySchema = v.strictObject({
  id: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
  roles: v.optional(v.array(RoleSchema), []),
  /** Approver groups policy's quorum names (`sre`, `security`, `break-glass`). */
  groups: v.optional(
    v.array(v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, "must be a lowercase group name"))),
  ),
});
export type Identity = v.InferOutput<typeof IdentitySchema>;

/** What a Linear transition means: workflow state names or label names (case-insensitive). */
const TransitionSchema = v.strictObject({
  states: v.optional(names, []),
  labels: v.optional(names, []),
});

const LinearApprovalsSchema = v.strictObject({
  /** On when set (or when `team_key` is): issues are opened for plans that need approval. */
  enabled: v.optional(v.boolean(), false),
  /** Linear's GraphQL endpoint (a local server speaking it in tests). */
  api_url: v.optional(url, "https://api.linear.app/graphql"),
  api_key: v.optional(SecretRefSchema, "env:LINEAR_API_KEY"),
  /** The team the approval issues are filed in, by its key (`OPS`). */
  team_key: v.optional(v.string()),
  labels: v.optional(
    v.strictObject({
      pending: v.optional(v.string(), "approval:pending"),
      granted: v.optional(v.string(), "approval:granted"),
      denied: v.optional(v.string(), "approval:denied"),
      expired: v.optional(v.string(), "approval:expired"),
    }),
    {},
  ),
  /** The transitions that grant: moving the issue to one of these states, or adding one of these labels. */
  grant: v.optional(TransitionSchema, { states: ["Approved"], labels: ["approve"] }),
  /** The transitions that deny. */
  deny: v.optional(TransitionSchema, { states: ["Rejected", "Canceled"], labels: ["deny"] }),
  /** Verifies `Linear-Signature` on `/v1/webhooks/linear` (the webhook's signing secret in Linear). */
  webhook_secret: v.optional(SecretRefSchema),
  /** How often open approval issues are read back when webhooks do not arrive. */
  poll_interval_ms: v.optional(positiveInt, 30_000),
});

export const ApprovalsConfigSchema = v.strictObject({
  /** A person's email (Linear user, Slack user) → the Wheelhouse identity that approves. Unmapped people are refused. */
  identities: v.optional(v.record(v.pipe(v.string(), v.email("must be an email address")), IdentitySchema), {}),
  /** The link to a plan shown in Linear and Slack; `{plan_id}` is replaced. */
  plan_url: v.optional(v.string(), "http://127.0.0.1:8320/v1/plans/{plan_id}"),
  linear: v.optional(LinearApprovalsSchema, {}),
});

export const ChatOpsConfigSchema = v.strictObject({
  slack: v.optional(
    v.strictObject({
      enabled: v.optional(v.boolean(), false),
      api_base: v.optional(url, "https://slack.com/api/"),
      bot_token: v.optional(SecretRefSchema, "env:SLACK_BOT_TOKEN"),
      signing_secret: v.optional(SecretRefSchema, "env:SLACK_SIGNING_SECRET"),
      /** Where plans that need approval are posted (a channel id such as C0123456). */
      approvals_channel: v.optional(v.string()),
      /** Bolt's HTTP receiver: Slack's request URL is `http(s)://<host>:<port>/slack/events`. */
      host: v.optional(v.string(), "127.0.0.1"),
      port: v.optional(port, 8325),
    }),
    {},
  ),
  /** The gateway ChatOps calls for the Slack user; unset: this process's gateway (`gateway.host:port`). */
  gateway_url: v.optional(url),
  /**
   * Ed25519 private key (PEM) ChatOps signs its on-behalf-of tokens with; the gateway holds the public half in
   * `delegation_verify_key`. Both unset in the embedded profile: a pair made at start, held only in memory.
   */
  delegation_signing_key: v.optional(SecretRefSchema),
  delegation_verify_key: v.optional(SecretRefSchema),
  /** The most a user acting through Slack may do, whatever their identity's roles. */
  delegation_roles: v.optional(v.array(RoleSchema), ["viewer", "operator", "approver"]),
});
