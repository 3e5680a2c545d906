/**
 * A process for `runtime.int.test.ts`: `runServices` with two stand-in services on a real runtime,
 * whose second one misbehaves as `WH_FIXTURE` says:
 *
 * - `slow-start`: takes 1.5 s to start, then starts and stops normally;
 * - `hung-start`: never finishes starting;
 * - `hung-stop`: starts, and never finishes stopping.
 *
 * It prints `starting <name>`, `started <name>`, `stopping <name>`, `stopped <name>` and `running`
 * on stdout, one per line, for the test to wait on.
 */
import { type RunningService, runServices, type ServiceStarter } from "./index.ts";

const mode = process.env.WH_FIXTURE ?? "slow-start";
const say = (line: string) => process.stdout.write(`${line}\n`);
const forever = new Promise<never>(() => {});

function standIn(name: string, behaviour: { start?: "slow" | "hung"; stop?: "hung" } = {}): ServiceStarter {
  return async () => {
    say(`starting ${name}`);
    if (behaviour.start === "hung") await forever;
    if (behaviour.start === "slow") await new Promise((resolve) => setTimeout(resolve, 1_500));
    say(`started ${name}`);
    const service: RunningService = {
      async stop() {
        say(`stopping ${name}`);
        if (behaviour.stop === "hung") await forever;
        say(`stopped ${name}`);
      },
    };
    return service;
  };
}

const second =
  mode === "hung-start"
    ? standIn("second", { start: "hung" })
    : mode === "hung-stop"
      ? standIn("second", { stop: "hung" })
      : standIn("second", { start: "slow" });

await runServices(
  "fixture",
  [
    ["first", standIn("first")],
    ["second", second],
  ],
  { onStarted: () => say("running") },
);
