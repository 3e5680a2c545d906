/**
 * GetResource: a target's attributes (through the catalog's `resource`
 * mapping) and its live state, read through the read action that shows it,
 * so that a rollback input can record the state before a change. For
 * kubectl.apply it also makes that rollback: the live objects, stored as an
 * artifact, applied again.
 */
import { ValidationError } from "../../lib/errors/index.ts";
import { type ArtifactStore, type Catalog, type CatalogAction, restoringManifest } from "../../lib/tools/index.ts";
import type {
  ExecuteToolRequest,
  ExecuteToolResult,
  GetResourceRequest,
  GetResourceResult,
} from "../../schemas/rpc/tool-router.ts";

type Input = Readonly<Record<string, unknown>>;

/** For a write or read action, the read that shows its target's current state, and how to map the input. */
const manifestObjects = {
  action: "kubectl.get_objects",
  map: (i: Input) => pick({ namespace: i.namespace, context: i.context, manifest_ref: i.manifest_ref }),
};
/** A node is cluster-scoped: the namespace kubectl.get requires is ignored for it. */
const node = {
  action: "kubectl.get",
  map: (i: Input) => pick({ kind: "node", name: i.node, namespace: "default", context: i.context, output: "json" }),
};

const STATE_READERS: Readonly<Record<string, { action: string; map: (i: Input) => Record<string, unknown> }>> = {
  "kubectl.apply": manifestObjects,
  "kubectl.get_objects": manifestObjects,
  "kubectl.cordon": node,
  "kubectl.uncordon": node,
  "kubectl.drain": node,
  kubectl: {
    action: "kubectl.get",
    map: (i) => pick({ kind: i.kind, name: i.name, namespace: i.namespace, context: i.context, output: "json" }),
  },
  helm: {
    action: "helm.status",
    map: (i) => pick({ release: i.release, namespace: i.namespace, kube_context: i.kube_context }),
  },
  argocd: { action: "argocd.app_get", map: (i) => pick({ app: i.app }) },
  vault: { action: "vault.kv_metadata_get", map: (i) => pick({ mount: i.mount, path: i.path }) },
  "aws.ecs": {
    action: "aws.ecs_describe_services",
    map: (i) => pick({ region: i.region, profile: i.profile, cluster: i.cluster, services: i.services ?? [i.service] }),
  },
  "aws.autoscaling": {
    action: "aws.autoscaling_describe_groups",
    map: (i) => pick({ region: i.region, profile: i.profile, group_names: i.group_names ?? [i.group_name] }),
  },
  "gh.pr_view": { action: "gh.pr_view", map: (i) => pick({ repo: i.repo, number: i.number }) },
};

function pick(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function readerFor(action: CatalogAction) {
  return (
    STATE_READERS[action.id] ??
    STATE_READERS[`${action.tool}.${action.action.split("_")[0]}`] ??
    (action.tool === "gh" || action.tool === "boundary" ? undefined : STATE_READERS[action.tool])
  );
}

/** The action of a request, or a `ValidationError` naming the unknown id. */
export function catalogActionOf(catalog: Catalog, actionId: string): CatalogAction {
  const action = catalog.get(actionId);
  if (!action) {
    throw new ValidationError(`unknown action "${actionId}"`, {
      field: "action_id",
      fix: "call ListTools for the catalog's action ids",
    });
  }
  return action;
}

export interface GetResourceDeps {
  readonly catalog: Catalog;
  readonly executeTool: (request: ExecuteToolRequest) => Promise<ExecuteToolResult>;
  /** Where a rollback's state is kept (kubectl.apply); without it GetResource reads but makes no rollback. */
  readonly artifacts?: ArtifactStore | null | undefined;
}

export async function getResource(deps: GetResourceDeps, request: GetResourceRequest): Promise<GetResourceResult> {
  const { catalog, executeTool } = deps;
  const action = catalogActionOf(catalog, request.action_id);
  const resource = catalog.resourceOf(action.id, request.input) ?? {};
  const reader = readerFor(action);
  if (!reader) return { action_id: action.id, resource, state: null, read: null };
  const result = await executeTool({
    action_id: reader.action,
    input: reader.map(request.input),
    execution_id: request.execution_id,
    step_id: request.step_id,
  });
  let state: unknown = null;
  if (result.ok) {
    try {
      state = JSON.parse(result.stdout.text);
    } catch {
      state = result.stdout.text;
    }
  }
  const read = { action_id: reader.action, tool_call_id: result.tool_call_id, status: result.status };
  const rollback = action.id === "kubectl.apply" && result.ok ? await applyRollback(deps, request.input, state) : null;
  return { action_id: action.id, resource, state, read, ...(rollback ? { rollback } : {}) };
}

/**
 * kubectl.apply's rollback: the objects the manifest names, as they are live now, in a manifest of
 * their own stored as an artifact, applied again (forcing the fields back from whoever owns them).
 */
async function applyRollback(
  deps: GetResourceDeps,
  input: Input,
  live: unknown,
): Promise<NonNullable<GetResourceResult["rollback"]> | null> {
  if (!deps.artifacts) return null;
  const manifest = restoringManifest(live);
  if (manifest.items.length === 0) return null;
  const content = new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`);
  const manifestRef = await deps.artifacts.store(content, "live-objects.json");
  return {
    action_id: "kubectl.apply",
    input: pick({
      namespace: input.namespace,
      context: input.context,
      manifest_ref: manifestRef,
      force_conflicts: true,
    }),
    note: "objects the apply creates are not deleted by this rollback; it puts back the ones that existed",
  };
}
