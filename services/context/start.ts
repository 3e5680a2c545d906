/** Starts the context service on a shared runtime (its own process, or the embedded one). */
import type { RunningService, Runtime } from "../../lib/runtime/index.ts";
import { kubeconfigPath, loadKubeconfig, pollerSettings } from "./config.ts";
import { createContextTransport } from "./http.ts";
import { createContextService } from "./service.ts";

/** How long start-up waits for the first sync before the process goes on (the sync continues). */
const FIRST_SYNC_WAIT_MS = 10_000;

export interface ContextStartOptions {
  /**
   * Serve the RPC and /readyz on `context.host:context.port`: when the service runs as its own
   * process. In the embedded profile the gateway's /readyz reports it and nothing else listens.
   */
  readonly listen?: boolean;
}

export async function startContext(runtime: Runtime, options: ContextStartOptions = {}): Promise<RunningService> {
  const { config } = runtime;
  const logger = runtime.logger("context");
  const path = kubeconfigPath(config, process.env);
  const settings = config.context;
  const service = createContextService({
    store: runtime.store,
    nc: runtime.nc,
    logger,
    kubeconfig: path ? loadKubeconfig(path) : null,
    kubeconfigSource: path ?? undefined,
    kube: {
      watchTimeoutSeconds: settings.watch_timeout_seconds,
      requestTimeoutMs: settings.request_timeout_ms,
    },
    resyncMs: settings.resync_ms,
    ...pollerSettings(config, process.env),
  });
  const unregister = runtime.health.register("context", () => {
    const health = service.health();
    return { summary: health.summary, critical: false };
  });
  const starting = service.start();
  let timer: NodeJS.Timeout | undefined;
  const waited = await Promise.race([
    starting.then(() => true),
    new Promise<false>((res) => {
      timer = setTimeout(() => res(false), FIRST_SYNC_WAIT_MS);
    }),
  ]);
  clearTimeout(timer);
  if (!waited) logger.warn("the first sync of the cluster is taking long; it goes on in the background");
  starting.catch((error: unknown) =>
    logger.error({ err: error }, `context service failed to start: ${(error as Error).message}`),
  );
  const transport = options.listen ? createContextTransport(service, logger) : null;
  const url = await transport?.start({ host: settings.host, port: settings.port });
  return {
    url,
    async stop() {
      unregister();
      await transport?.stop();
      await starting.catch(() => {});
      await service.stop();
    },
  };
}
