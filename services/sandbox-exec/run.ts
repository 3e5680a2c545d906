/**
 * sandbox-exec, transport-free: reads one `SandboxExecRequest`, runs the call
 * and reports it as `SandboxExecMessage`s (the protocol lives in
 * lib/tools/sandbox-protocol.ts, shared with the tool router that starts us).
 *
 * In the one-call form a process is started for every call, so what it loads is paid for every
 * call (a host, serve.ts, pays it once for many calls): the modules come
 * one by one (not through lib/tools/index.ts, which also brings capabilities and the router's
 * artifact store), and the object store's client (the MinIO SDK) only for a call that reads an
 * artifact from it.
 */
import type { SecretRef, ToolsConfig } from "../../lib/config/index.ts";
import { resolveSecret } from "../../lib/config/index.ts";
import { toProblem } from "../../lib/errors/index.ts";
import type { Scrub } from "../../lib/redact/index.ts";
import { createArtifactResolver, type ObjectStoreReader } from "../../lib/tools/artifacts.ts";
import type { Catalog } from "../../lib/tools/catalog.ts";
import { createToolExecutor } from "../../lib/tools/execute.ts";
import { createSandbox } from "../../lib/tools/sandbox.ts";
import {
  type ObjectStoreRef,
  parseSandboxExecRequest,
  type SandboxExecMessage,
  type SandboxExecRequest,
} from "../../lib/tools/sandbox-protocol.ts";

/** The object store's client, made on the first read. */
function objectStoreOnFirstRead(ref: ObjectStoreRef, secret: (ref: SecretRef) => string | null): ObjectStoreReader {
  let client: Promise<ObjectStoreReader> | null = null;
  return {
    async getObject(bucket, key) {
      client ??= import("../../lib/tools/artifact-store.ts").then((m) => m.objectStoreClient(ref, secret));
      return (await client).getObject(bucket, key);
    },
  };
}

export interface SandboxExecDeps {
  readonly tools: ToolsConfig;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly write: (message: SandboxExecMessage) => void;
  readonly redact?: Scrub | undefined;
  /** Loaded before the request is read (main.ts), so a process started ahead has it ready. */
  readonly catalog: Catalog;
  readonly signal?: AbortSignal | undefined;
  /** Parent folder of the call's private work dir (a host's `--work-root`); the OS temp folder by default. */
  readonly tmpRoot?: string | undefined;
}

/**
 * Runs one request (its raw JSON, or one a host has read already); resolves with the process exit
 * code (0 when a result was written). Never throws: a failure is written as the protocol's error.
 */
export async function runSandboxExec(raw: string | SandboxExecRequest, deps: SandboxExecDeps): Promise<number> {
  try {
    const request = typeof raw === "string" ? parseSandboxExecRequest(raw) : raw;
    const secret = (ref: SecretRef) => resolveSecret(ref, deps.env);
    const objectStore = request.object_store ? objectStoreOnFirstRead(request.object_store, secret) : undefined;
    const executor = createToolExecutor({
      catalog: deps.catalog,
      sandbox: createSandbox({
        envAllow: deps.tools.env_allow,
        hostEnv: deps.env,
        resolveSecret: secret,
        redact: deps.redact,
        defaultTimeoutMs: deps.tools.default_timeout_ms,
        defaultMaxOutputBytes: deps.tools.max_output_bytes,
        tmpRoot: deps.tmpRoot,
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
