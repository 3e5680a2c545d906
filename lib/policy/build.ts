/**
 * Building policy bundles with the opa CLI, for tests, benchmarks and setup.
 * The service itself never shells out: it loads what these produce.
 */
import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ValidationError } from "../errors/index.ts";
import { POLICY_ENTRYPOINT } from "./service.ts";

const run = promisify(execFile);

/** The repository's `policies/` directory. */
export const POLICIES_DIR = fileURLToPath(new URL("../../policies/", import.meta.url));

const OPA_VERSION = "v1.22.2";

/**
 * The opa binary: `OPA` from the given environment, else the repo's
 * `.tools/bin/opa`, else the versioned tool cache. Null when none is executable.
 */
export function resolveOpaBinary(env: Readonly<Record<string, string | undefined>>): string | null {
  const candidates = [
    env.OPA,
    resolve(POLICIES_DIR, "../.tools/bin/opa"),
    join(homedir(), ".cache/wheelhouse/tools", `opa-${OPA_VERSION}`, "opa"),
  ];
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not there or not executable: try the next one.
    }
  }
  return null;
}

export interface BuildBundleOptions {
  readonly opa: string;
  /** Rego files, data.json files or directories, as `opa build` takes them. */
  readonly sources: readonly string[];
  readonly outPath: string;
  readonly entrypoint?: string;
  readonly revision?: string;
}

/** Runs `opa build -t wasm`; rejects with opa's stderr when the build fails. */
export async function buildPolicyBundle(options: BuildBundleOptions): Promise<void> {
  const args = ["build", "-t", "wasm", "-e", options.entrypoint ?? POLICY_ENTRYPOINT, "-o", options.outPath];
  if (options.revision) args.push("--revision", options.revision);
  try {
    await run(options.opa, [...args, ...options.sources], { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new ValidationError(`opa build failed: ${stderr.trim() || (error as Error).message}`, {
      field: "policies",
      fix: "fix the Rego or data opa names above; policies/check.sh runs the same build with the policy tests",
      cause: error,
    });
  }
}
