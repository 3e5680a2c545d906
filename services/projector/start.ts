/** Starts the projector on a shared runtime: every read model, kept up to date from the events stream. */
import type { RunningService, Runtime } from "../../lib/runtime/index.ts";
import { projections } from "../../projections/index.ts";
import { createProjector, type Projector } from "./projector.ts";

/** The projector of every registered read model, on a runtime's connections and settings. */
export async function projectorOn(runtime: Runtime): Promise<Projector> {
  return createProjector({
    nc: runtime.nc,
    store: runtime.store,
    db: await runtime.db(),
    projections,
    logger: runtime.logger("projector"),
    durableCommit: runtime.config.storage.projector_durable_commit,
    rebuildOnStreamChange: runtime.config.storage.projector_rebuild_on_stream_change,
  });
}

export async function startProjector(runtime: Runtime): Promise<RunningService & { projector: Projector }> {
  const projector = await projectorOn(runtime);
  await projector.start();
  return { projector, stop: () => projector.stop() };
}
