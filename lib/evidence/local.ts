/**
 * Local-folder evidence backend (the embedded default). Files are written
 * to a temporary name, fsynced, renamed into place and made read-only; a
 * name is never reused, so nothing is ever overwritten.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ValidationError } from "../errors/index.ts";
import type { EvidenceBackend, EvidenceConfig, EvidenceStoreDeps } from "./index.ts";

export function createLocalBackend(config: EvidenceConfig, deps: EvidenceStoreDeps): EvidenceBackend {
  const root = resolve(deps.cwd ?? process.cwd(), config.path);

  function pathOf(uri: string): string {
    let path: string;
    try {
      path = fileURLToPath(uri);
    } catch (cause) {
      throw new ValidationError(`evidence URI ${uri} is not a file:// URI`, {
        field: "uri",
        fix: "read it with the evidence store that wrote it (storage.evidence.kind)",
        cause,
      });
    }
    const rel = relative(root, path);
    if (rel.startsWith("..") || isAbsolute(rel)) {
      throw new ValidationError(`evidence URI ${uri} is outside the evidence folder ${root}`, {
        field: "uri",
        fix: "set storage.evidence.path to the folder the evidence was written to",
      });
    }
    return path;
  }

  return {
    kind: "local",
    async ensureReady() {
      await mkdir(root, { recursive: true });
    },
    async put(key, body) {
      // The layout's `evidence/` prefix is the root folder itself.
      const path = join(root, key.replace(/^evidence\//, ""));
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
      const handle = await open(tmp, "wx", 0o444);
      try {
        await handle.writeFile(body);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, path);
      return pathToFileURL(path).href;
    },
    async get(uri) {
      try {
        return await readFile(pathOf(uri));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
        throw error;
      }
    },
  };
}
