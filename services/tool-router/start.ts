/**
 * Starts the tool router on a shared runtime: typed RPC over HTTP, each call's CLI in a sandbox; the
 * sandbox processes are a pool of hosts or one per call (`tools.sandbox.mode`), started with the router.
 */
import type { KeyObject } from "node:crypto";
import { resolveSecret } from "../../lib/config/index.ts";
import type { RunningService, Runtime } from "../../lib/runtime/index.ts";
import {
  createArtifactStore,
  createCapabilityVerifier,
  findExecutable,
  type ObjectStoreRef,
  objectStoreClient,
  requireVerifyKey,
} from "../../lib/tools/index.ts";
import { createGithubApi } from "./github.ts";
import { createToolRouterTransport } from "./http.ts";
import { createKubernetesApi, kubeconfigFor } from "./kubernetes.ts";
import { createToolCallRecorder } from "./recorder.ts";
import { createToolRouter } from "./router.ts";
import { createSandboxProcessRunner } from "./spawn.ts";

export interface ToolRouterStartOptions {
  /**
   * The key capabilities are checked with, when the caller holds it (the embedded profile hands in the
   * public half of its pair); otherwise `tools.capability_verify_key`, without which the router will not start.
   */
  readonly verifyKey?: KeyObject | undefined;
}

export async function startToolRouter(runtime: Runtime, options: ToolRouterStartOptions = {}): Promise<RunningService> {
  const { config } = runtime;
  const logger = runtime.logger("tool-router");
  // Before anything else: a router that could not tell an approved call from any other must not listen.
  const capabilities = createCapabilityVerifier({ verifyKey: options.verifyKey ?? requireVerifyKey(config) });
  const toolPath = process.env.PATH ?? "";
  const github = config.connectors.github;
  const githubToken = resolveSecret(github.token);
  const evidence = config.storage.evidence;
  // The kubeconfig kubectl would get through the sandbox's environment, for the API fallback without kubectl.
  const kubeconfig = kubeconfigFor(process.env, config.tools.env_allow);
  // Artifacts (Helm values, manifests) may come from the object store: the evidence store's endpoint and keys serve it.
  const objectStore: ObjectStoreRef | undefined =
    evidence.kind === "s3" || resolveSecret(evidence.access_key) !== null
      ? {
          endpoint: evidence.endpoint,
          region: evidence.region,
          access_key: evidence.access_key,
          secret_key: evidence.secret_key,
        }
      : undefined;
  const sandbox = createSandboxProcessRunner({
    env: process.env,
    defaultTimeoutMs: config.tools.default_timeout_ms,
    ...(objectStore ? { objectStore } : {}),
    prestart: true,
    mode: config.tools.sandbox.mode,
    hosts: config.tools.sandbox.hosts,
    recycleAfterCalls: config.tools.sandbox.recycle_after_calls,
    onHostExit: (exit) => {
      if (exit.expected) return;
      logger.warn(
        {
          pid: exit.pid,
          code: exit.code,
          signal: exit.signal,
          calls_failed: exit.callsFailed,
          restart_in_ms: exit.restartInMs,
          stderr: exit.stderr,
        },
        "a sandbox host exited unexpectedly; its calls in flight failed and a replacement is started",
      );
    },
    onStaleHostDir: (swept) => {
      logger.warn(
        { dir: swept.dir, killed_process_groups: swept.killedGroups },
        "removed the folder of a sandbox host whose router and host are gone (a router that crashed), killing what still ran in it",
      );
    },
  });
  const router = createToolRouter({
    catalog: runtime.catalog(),
    runInSandbox: sandbox,
    artifacts: objectStore
      ? createArtifactStore({
          client: objectStoreClient(objectStore, (ref) => resolveSecret(ref)),
          bucket: config.tools.artifact_bucket,
          region: objectStore.region,
        })
      : null,
    isInstalled: async (binary) => (await findExecutable(binary, toolPath)) !== null,
    apis: {
      gh: githubToken ? createGithubApi({ apiBase: github.api_base, token: githubToken }) : null,
      kubectl: kubeconfig ? createKubernetesApi({ kubeconfig }) : null,
    },
    ...createToolCallRecorder({ store: runtime.store, evidence: runtime.evidence(), logger }),
  });
  const transport = createToolRouterTransport({
    router,
    logger,
    capabilities,
    authToken: resolveSecret(config.tools.router_token),
  });
  const url = await transport.start({ host: config.tools.router_host, port: config.tools.router_port });
  return {
    url,
    async stop() {
      await transport.stop();
      await sandbox.close();
    },
  };
}
