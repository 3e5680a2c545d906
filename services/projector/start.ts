/** Starts the projector on a shared runtime: every read model, kept up to date from the events stream. */
import type { RunningService, Runtime } from "../../lib/runtime/index.ts";
import { projections } from "../../projections/index.ts";
import { createProjector, type Projector } from "./projector.ts";

export async function startProjector(runtime: Runtime): Promise<RunningService & { projector: Projector }> {
  const logger = runtime.logger("projector");
  const projector = createProjector({
    nc: runtime.nc,
    store: runtime.store,
    db: await runtime.db(),
    projections,
    logger,
    durableCommit: runtime.config.storage.projector_durable_commit,
  });
  await projector.start();
  return { projector, stop: () => projector.stop() };
}
