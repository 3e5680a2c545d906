/**
 * Projector as its own process: `node --import tsx services/projector/main.ts`, or
 * `... main.ts rebuild [projection...]` to drop read models, replay the streams into them and exit.
 * SIGTERM/SIGINT finish the batch in hand, commit it and exit.
 */
import { loadConfig } from "../../lib/config/index.ts";
import { toWheelhouseError } from "../../lib/errors/index.ts";
import { openRuntime, runServices } from "../../lib/runtime/index.ts";
import { projectorOn, startProjector } from "./start.ts";

const [command, ...args] = process.argv.slice(2);
if (command === undefined) {
  await runServices("projector", [["projector", startProjector]]);
} else if (command === "rebuild") {
  const runtime = await openRuntime(loadConfig(), "projector-rebuild");
  const logger = runtime.logger("projector");
  try {
    const projector = await projectorOn(runtime);
    await projector.rebuild(args.length > 0 ? args : undefined);
    logger.info({ lag: await projector.lag() }, "rebuild finished");
  } catch (error) {
    const e = toWheelhouseError(error);
    process.stderr.write(`wheelhouse: rebuild failed: ${e.message}${e.fix ? `\n  fix: ${e.fix}` : ""}\n`);
    process.exitCode = 1;
  } finally {
    await runtime.close();
  }
} else {
  process.stderr.write(`wheelhouse: unknown command "${command}"; use no argument, or "rebuild [projection...]"\n`);
  process.exit(2);
}
