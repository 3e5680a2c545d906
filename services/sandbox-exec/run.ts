/**
 * The sandbox-exec protocol, transport-free: one request in, JSON lines out.
 *
 * In:  one JSON object, a `SandboxExecRequest` (a tool-call spec plus how to
 *      reach the artifact store; secret *references* only, never values).
 * Out: `{"type":"started",...}`, then `{"type":"output","stream":"stdout","seq":0,"line":"..."}`
 *      per line (redacted), then exactly one `{"type":"result","result":{...}}`
 *      or `{"type":"error","error":{problem+json}}`.
 */
import { Client } from "minio";
import type { SecretRef, ToolsConfig } from "../../lib/config/index.ts";
import { resolveSecret } from "../../lib/config/index.ts";
import { toProblem, ValidationError } from "../../lib/errors/index.ts";
import type { Scrub } from "../../lib/redact/index.ts";
import {
  createArtifactResolver,
  createSandbox,
  createToolExecutor,
  loadCatalog,
  type ToolCallOutcome,
  type ToolCallSpec,
} from "../../lib/tools/index.ts";

export interface ObjectStoreRef {
  readonly endpoint: string;
  readonly region?: string | undefined;
  readonly access_key: SecretRef;
  readonly secret_key: SecretRef;
}

export interface SandboxExecRequest extends ToolCallSpec {
  /** Where `object_store` artifacts are read from. */
  readonly object_store?: ObjectStoreRef | undefined;
  /** Allow `file://` git artifacts (single-machine setups and tests). */
  readonly allow_file_repos?: boolean | undefined;
}

export type SandboxExecMessage =
  | { type: "started"; pid: number; binary: string; argv: readonly string[] }
  | { type: "output"; stream: "stdout" | "stderr"; seq: number; line: string }
  | { type: "result"; result: ToolCallOutcome }
  | { type: "error"; error: ReturnType<typeof toProblem> };

export interface SandboxExecDeps {
  readonly tools: ToolsConfig;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly write: (message: SandboxExecMessage) => void;
  readonly redact?: Scrub | undefined;
  readonly catalogDir?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Runs one request; resolves with the process exit code (0 when a result was written). */
export async function runSandboxExec(raw: string, deps: SandboxExecDeps): Promise<number> {
  try {
    const request = parseRequest(raw);
    const secret = (ref: SecretRef) => resolveSecret(ref, deps.env);
    const objectStore = request.object_store ? minioClient(request.object_store, secret) : undefined;
    const executor = createToolExecutor({
      catalog: loadCatalog(deps.catalogDir),
      sandbox: createSandbox({
        envAllow: deps.tools.env_allow,
        hostEnv: deps.env,
        resolveSecret: secret,
        redact: deps.redact,
        defaultTimeoutMs: deps.tools.default_timeout_ms,
        defaultMaxOutputBytes: deps.tools.max_output_bytes,
      }),
      artifacts: createArtifactResolver({
        objectStore,
        allowFileRepos: request.allow_file_repos === true,
        path: deps.env.PATH,
      }),
      credentials: deps.tools.credentials,
      allowedRoots: deps.tools.allowed_paths,
      secretSources: deps.tools.secret_sources,
      resolveSecret: secret,
    });
    const result = await executor.execute(request, {
      onSpawn: ({ pid, binary, argv }) => deps.write({ type: "started", pid, binary, argv }),
      onLine: ({ stream, seq, line }) => deps.write({ type: "output", stream, seq, line }),
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
    deps.write({ type: "result", result });
    return 0;
  } catch (error) {
    deps.write({ type: "error", error: toProblem(error) });
    return 1;
  }
}

function parseRequest(raw: string): SandboxExecRequest {
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (cause) {
    throw new ValidationError("stdin is not valid JSON", {
      field: "(stdin)",
      fix: "write one JSON tool-call spec to stdin",
      cause,
    });
  }
  const r = doc as Partial<SandboxExecRequest> | null;
  if (typeof r !== "object" || r === null || typeof r.action_id !== "string" || typeof r.tool_call_id !== "string") {
    throw new ValidationError("the request needs tool_call_id, action_id and input", {
      field: "(stdin)",
      fix: 'send {"tool_call_id": "...", "action_id": "kubectl.get", "input": {...}}',
    });
  }
  if (typeof r.input !== "object" || r.input === null) {
    throw new ValidationError("input must be an object", { field: "input", fix: "send the action's input object" });
  }
  return r as SandboxExecRequest;
}

function minioClient(ref: ObjectStoreRef, secret: (ref: SecretRef) => string | null): Client {
  const url = new URL(ref.endpoint);
  return new Client({
    endPoint: url.hostname,
    port: Number(url.port || (url.protocol === "https:" ? 443 : 80)),
    useSSL: url.protocol === "https:",
    region: ref.region ?? "us-east-1",
    accessKey: secret(ref.access_key) ?? "",
    secretKey: secret(ref.secret_key) ?? "",
  });
}
