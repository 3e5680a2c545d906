/**
 * The shape of one catalog action, as `lib/tools` loads it from the JSON
 * files beside this one (`<tool>.json`: one entry per action) and as the tool
 * router's ListTools describes it.
 */
import * as v from "valibot";
import { TierSchema } from "../../events/index.ts";

export const ActionKindSchema = v.picklist(["read", "write"]);

/**
 * One action of one CLI, e.g. `kubectl.scale`.
 *
 * `resource` maps target attributes (namespace, name, kind, replicas, ...) to
 * the input field that holds them, so policy can read "what does this touch"
 * without knowing each tool: `{ namespace: "namespace", name: "release" }`.
 */
export const CatalogActionSchema = v.object({
  /** `<tool>.<action>`, e.g. `helm.upgrade`. */
  id: v.string(),
  tool: v.string(),
  action: v.string(),
  /** Executable the action runs, e.g. `kubectl`. */
  binary: v.string(),
  description: v.string(),
  kind: ActionKindSchema,
  reversible: v.boolean(),
  /** Default risk tier; policy may raise it (production, protected namespaces). */
  risk: TierSchema,
  /** Whether the action has a dry-run form (server-side dry run, helm --dry-run, argocd app diff). */
  dry_run: v.boolean(),
  /** Action id that undoes this one, or null. */
  rollback: v.nullable(v.string()),
  /**
   * Whether the router can run it through the tool's API when the CLI is not installed (gh: GitHub's
   * REST API; kubectl: the Kubernetes API), with the same input and evidence. False when absent.
   */
  api_fallback: v.boolean(),
  resource: v.record(v.string(), v.string()),
  /** The input's JSON Schema (2020-12). Kept loose on purpose: consumers hand it to ajv or an LLM. */
  input: v.record(v.string(), v.unknown()),
});
