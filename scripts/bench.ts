/**
 * Runs one benchmark of `scripts/bench/`: `npm run bench -- <name> [arguments]`, e.g.
 * `npm run bench -- policy` or `npm run bench -- append 4000`. The benchmark sees its own
 * arguments in `process.argv` as if it had been started directly.
 */
import { readdirSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const dir = fileURLToPath(new URL("./bench/", import.meta.url));
const available = readdirSync(dir)
  .filter((file) => file.endsWith(".ts") && !file.includes(".test."))
  .map((file) => file.slice(0, -".ts".length))
  .sort();

const [name, ...args] = process.argv.slice(2);
if (name === undefined || !available.includes(name)) {
  const problem = name === undefined ? "which benchmark?" : `no benchmark named "${name}".`;
  process.stderr.write(`bench: ${problem} Run one of: ${available.map((b) => `npm run bench -- ${b}`).join(", ")}\n`);
  process.exit(2);
}
const file = `${dir}${name}.ts`;
process.argv = [process.argv[0] ?? process.execPath, file, ...args];
await import(pathToFileURL(file).href);
