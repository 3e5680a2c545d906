/** vault: KV v2 metadata, put (secret values from files only) and rollback. */
import { ValidationError } from "../../errors/index.ts";
import { type BuildOptions, int, req, str, unknownAction, validateToolInput } from "./input.ts";

/**
 * `vault …` for one catalog action. Vault's flag parser stops at the first
 * positional argument, so every flag comes before the path. Secret values are
 * passed as `key=@file` from `opts.secretFiles`, never on the command line.
 */
export function buildVaultCmd(action: string, rawInput: unknown, opts: BuildOptions = {}): string[] {
  const input = validateToolInput(`vault.${action}`, rawInput, opts);
  const head = ["-format=json", `-mount=${str(input, "mount") ?? "secret"}`];
  const path = req(input, "path");
  switch (action) {
    case "kv_metadata_get":
      return ["vault", "kv", "metadata", "get", ...head, path];
    case "kv_put": {
      const refs = input.data_refs as Record<string, string>;
      const files = opts.secretFiles ?? {};
      const pairs = Object.keys(refs)
        .sort()
        .map((key) => {
          const file = files[key];
          if (file === undefined) {
            throw new ValidationError(`input.data_refs.${key} has not been resolved to a file`, {
              field: `input.data_refs.${key}`,
              fix: "resolve data_refs into the private work dir and pass them as secretFiles",
            });
          }
          return `${key}=@${file}`;
        });
      const cas = int(input, "cas");
      return ["vault", "kv", "put", ...head, ...(cas === undefined ? [] : [`-cas=${cas}`]), path, ...pairs];
    }
    case "kv_rollback":
      return ["vault", "kv", "rollback", ...head, `-version=${req(input, "version")}`, path];
    default:
      return unknownAction("vault", action);
  }
}
