/**
 * One tool call, end to end inside the sandbox: validate the input, fetch and
 * verify artifacts (and check a manifest's objects), write secret files, build
 * the argv, run it. This is what
 * `services/sandbox-exec` runs for each call, in its own process.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { SecretRef } from "../config/index.ts";
import { resolveSecret as defaultResolveSecret } from "../config/index.ts";
import { UnavailableError, ValidationError } from "../errors/index.ts";
import type { ArtifactRef, ArtifactResolver } from "./artifacts.ts";
import { buildCommand, successExitCodes, validateToolInput } from "./builders.ts";
import type { Catalog } from "./catalog.ts";
import { checkManifest } from "./manifest.ts";
import type { OutputLine, Sandbox, SandboxResult } from "./sandbox.ts";

/** What the tool router hands the sandbox process: one call, no secret values in it. */
export interface ToolCallSpec {
  readonly tool_call_id: string;
  readonly execution_id?: string | undefined;
  readonly step_id?: string | undefined;
  readonly action_id: string;
  readonly input: Readonly<Record<string, unknown>>;
  readonly dry_run?: boolean | undefined;
  readonly timeout_ms?: number | undefined;
  readonly max_output_bytes?: number | undefined;
}

export interface ToolCallOutcome extends SandboxResult {
  readonly tool_call_id: string;
  readonly action_id: string;
  readonly dry_run: boolean;
  /** Exit code is one the action counts as success (argocd app diff: 0 or 1). */
  readonly ok: boolean;
}

export interface ToolExecutorDeps {
  readonly catalog: Catalog;
  readonly sandbox: Sandbox;
  readonly artifacts: ArtifactResolver;
  /** Per tool: environment variable → secret reference (config `tools.credentials`). */
  readonly credentials?: Readonly<Record<string, Readonly<Record<string, SecretRef>>>> | undefined;
  /** Folders an absolute chart path may name (config `tools.allowed_paths`). */
  readonly allowedRoots?: readonly string[] | undefined;
  /** Where `data_refs` may read from (config `tools.secret_sources`); none when absent. */
  readonly secretSources?: readonly string[] | undefined;
  readonly resolveSecret?: ((ref: SecretRef) => string | null) | undefined;
}

/** Non-secret environment each CLI needs to behave non-interactively. */
const TOOL_ENV: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  aws: { AWS_PAGER: "" },
  gh: { GH_PROMPT_DISABLED: "1", GH_NO_UPDATE_NOTIFIER: "1", NO_COLOR: "1" },
  helm: { HELM_NO_PLUGINS: "1" },
  kubectl: {},
  argocd: {},
  vault: { VAULT_FORMAT: "json" },
  boundary: {},
};

export interface ToolExecutor {
  execute(
    spec: ToolCallSpec,
    hooks?: {
      onLine?: (line: OutputLine) => void;
      onSpawn?: (info: { pid: number; binary: string; argv: readonly string[] }) => void;
      signal?: AbortSignal;
    },
  ): Promise<ToolCallOutcome>;
}

export function createToolExecutor(deps: ToolExecutorDeps): ToolExecutor {
  const resolve = deps.resolveSecret ?? ((ref: SecretRef) => defaultResolveSecret(ref));
  return {
    async execute(spec, hooks = {}) {
      const action = deps.catalog.get(spec.action_id);
      if (!action) {
        throw new ValidationError(`unknown action "${spec.action_id}"`, {
          field: "action_id",
          fix: "use an action id from the tool catalog (schemas/tools)",
        });
      }
      const dryRun = spec.dry_run === true;
      // Validate before anything is fetched or created: a refused input costs nothing.
      const input = validateToolInput(spec.action_id, spec.input, { catalog: deps.catalog });
      const result = await deps.sandbox.run({
        argv: async ({ workDir, addSecret }) => {
          let valuesFile: string | undefined;
          if (input.values_ref !== undefined) {
            valuesFile = (await deps.artifacts.resolve(input.values_ref as ArtifactRef, workDir)).path;
          }
          let manifestFile: string | undefined;
          if (input.manifest_ref !== undefined) {
            manifestFile = (
              await deps.artifacts.resolve(input.manifest_ref as ArtifactRef, workDir, "input.manifest_ref")
            ).path;
            // What the manifest holds is part of the input: checked before anything runs.
            checkManifest(await readFile(manifestFile, "utf8"), String(input.namespace));
          }
          let secretFiles: Record<string, string> | undefined;
          if (action.tool === "vault" && input.data_refs !== undefined) {
            secretFiles = await writeSecretFiles(
              input.data_refs as Record<string, SecretRef>,
              workDir,
              resolve,
              addSecret,
              deps.secretSources ?? [],
            );
          }
          return buildCommand(spec.action_id, input, {
            dryRun,
            catalog: deps.catalog,
            allowedRoots: deps.allowedRoots,
            valuesFile,
            manifestFile,
            secretFiles,
          });
        },
        env: TOOL_ENV[action.tool] ?? {},
        credentials: deps.credentials?.[action.tool] ?? {},
        timeoutMs: spec.timeout_ms,
        maxOutputBytes: spec.max_output_bytes,
        onLine: hooks.onLine,
        onSpawn: hooks.onSpawn,
        signal: hooks.signal,
      });
      return {
        ...result,
        tool_call_id: spec.tool_call_id,
        action_id: spec.action_id,
        dry_run: dryRun,
        ok: result.exit_code !== null && successExitCodes(spec.action_id, dryRun).includes(result.exit_code),
      };
    },
  };
}

async function writeSecretFiles(
  refs: Record<string, SecretRef>,
  workDir: string,
  resolve: (ref: SecretRef) => string | null,
  addSecret: (value: string) => void,
  sources: readonly string[],
): Promise<Record<string, string>> {
  // Check every reference before reading any: a refused plan reads nothing.
  for (const [field, ref] of Object.entries(refs)) {
    if (!sources.some((source) => secretSourceAllows(source, ref))) {
      throw new ValidationError(`data_refs.${field} names ${ref}, which is not an allowed secret source`, {
        field: `input.data_refs.${field}`,
        fix: `use a source listed in tools.secret_sources (${sources.join(", ") || "none configured"}), or add this one there`,
      });
    }
  }
  const dir = join(workDir, "secrets");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files: Record<string, string> = {};
  let i = 0;
  for (const [field, ref] of Object.entries(refs)) {
    const value = resolve(ref);
    if (value === null) {
      throw new UnavailableError(`secret for data_refs.${field} is not available (${ref})`, {
        field: `input.data_refs.${field}`,
        fix: ref.startsWith("env:") ? `export ${ref.slice(4)} for the tool router` : `create ${ref.slice(5)}`,
      });
    }
    addSecret(value);
    const file = join(dir, `s${i++}`);
    await writeFile(file, value, { mode: 0o600 });
    files[field] = file;
  }
  return files;
}

/** `env:NAME` matches itself; `env:PREFIX*` and `file:/dir/*` match by prefix (a file path must not climb out). */
export function secretSourceAllows(source: string, ref: string): boolean {
  if (ref.includes("..")) return false;
  return source.endsWith("*") ? ref.startsWith(source.slice(0, -1)) : ref === source;
}
