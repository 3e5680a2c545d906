/**
 * Artifact references: files a tool call needs (Helm values, manifests to
 * apply) named by where they live and what their sha256 must be. An artifact is fetched into the
 * call's private work dir and verified before the command is built; a
 * mismatch stops the call before anything runs.
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { execa } from "execa";
import { PayloadTooLargeError, PreconditionFailedError, UnavailableError, ValidationError } from "../errors/index.ts";

export type ArtifactRef =
  | {
      readonly kind: "git_path";
      /** `https://host/owner/repo` (or `file:///path` where allowed). */
      readonly repo: string;
      /** Branch, tag or commit. */
      readonly ref: string;
      /** File inside the repository. */
      readonly path: string;
      readonly sha256: string;
    }
  | { readonly kind: "object_store"; readonly bucket: string; readonly key: string; readonly sha256: string };

export interface ResolvedArtifact {
  /** Local file in the work dir, verified. */
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
}

/** The fetched artifact's checksum differs from the one in the plan: somebody changed it after approval. */
export class ArtifactIntegrityError extends PreconditionFailedError {
  readonly expected: string;
  readonly actual: string;
  constructor(ref: ArtifactRef, actual: string, field = "input.values_ref") {
    const where = ref.kind === "git_path" ? `${ref.repo}@${ref.ref}:${ref.path}` : `s3://${ref.bucket}/${ref.key}`;
    super(`artifact ${where} has sha256 ${actual}, the plan expects ${ref.sha256}; nothing was run`, {
      field: `${field}.sha256`,
      fix: "re-plan with the artifact's current checksum (and get it approved again), or restore the approved content",
      extra: { expected: ref.sha256, actual },
    });
    this.name = "ArtifactIntegrityError";
    this.expected = ref.sha256;
    this.actual = actual;
  }
}

/** The part of the MinIO client the resolver uses (a `minio.Client` fits). */
export interface ObjectStoreReader {
  getObject(bucket: string, key: string): Promise<Readable>;
}

export interface ArtifactResolverDeps {
  /** Needed for `object_store` refs. */
  readonly objectStore?: ObjectStoreReader | undefined;
  /** Allow `file://` git remotes (tests, single-machine setups); off by default. */
  readonly allowFileRepos?: boolean | undefined;
  /** Largest artifact accepted, in bytes. */
  readonly maxBytes?: number | undefined;
  /** `git` executable; `git` on PATH by default. */
  readonly gitBinary?: string | undefined;
  readonly gitTimeoutMs?: number | undefined;
  /** PATH for git (the tool router's). */
  readonly path?: string | undefined;
}

export interface ArtifactResolver {
  /**
   * Fetches and verifies `ref` into `workDir`; throws `ArtifactIntegrityError` on a checksum mismatch.
   * `field` is the input field that holds the ref (`input.values_ref` unless named), for the errors.
   */
  resolve(ref: ArtifactRef, workDir: string, field?: string): Promise<ResolvedArtifact>;
}

const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;

export function createArtifactResolver(deps: ArtifactResolverDeps = {}): ArtifactResolver {
  const maxBytes = deps.maxBytes ?? DEFAULT_MAX_BYTES;
  return {
    async resolve(ref, workDir, field = "input.values_ref") {
      const dir = join(workDir, "artifacts");
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const file = join(dir, `${ref.sha256.slice(0, 16)}-${ref.kind}`);
      let actual: { sha256: string; bytes: number };
      try {
        if (ref.kind === "git_path") actual = await fetchGitFile(ref, file, workDir, deps, maxBytes, field);
        else actual = await fetchObject(ref, file, deps, maxBytes, field);
      } catch (error) {
        // A partial or oversized download must not be left where a tool could read it.
        await rm(file, { force: true });
        throw error;
      }
      if (actual.sha256 !== ref.sha256) {
        await rm(file, { force: true });
        throw new ArtifactIntegrityError(ref, actual.sha256, field);
      }
      return { path: file, sha256: actual.sha256, bytes: actual.bytes };
    },
  };
}

async function fetchObject(
  ref: Extract<ArtifactRef, { kind: "object_store" }>,
  file: string,
  deps: ArtifactResolverDeps,
  maxBytes: number,
  field: string,
): Promise<{ sha256: string; bytes: number }> {
  if (!deps.objectStore) {
    throw new UnavailableError("no object store is configured for object_store artifacts", {
      field,
      fix: "configure the object store endpoint for the tool router, or use a git_path artifact",
    });
  }
  let body: Readable;
  try {
    body = await deps.objectStore.getObject(ref.bucket, ref.key);
  } catch (cause) {
    throw new UnavailableError(`cannot read s3://${ref.bucket}/${ref.key}: ${(cause as Error).message}`, {
      field,
      fix: "check that the object exists and the tool router's credentials can read it",
      cause,
    });
  }
  const hash = createHash("sha256");
  let bytes = 0;
  await pipeline(
    body,
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        bytes += chunk.length;
        if (bytes > maxBytes) {
          throw new PayloadTooLargeError(`artifact s3://${ref.bucket}/${ref.key} is larger than ${maxBytes} bytes`, {
            field,
            fix: "keep artifacts small; split them or raise the limit",
          });
        }
        hash.update(chunk);
        yield chunk;
      }
    },
    createWriteStream(file, { mode: 0o600 }),
  );
  return { sha256: hash.digest("hex"), bytes };
}

async function fetchGitFile(
  ref: Extract<ArtifactRef, { kind: "git_path" }>,
  file: string,
  workDir: string,
  deps: ArtifactResolverDeps,
  maxBytes: number,
  field: string,
): Promise<{ sha256: string; bytes: number }> {
  const isFile = ref.repo.startsWith("file://");
  if (isFile && !deps.allowFileRepos) {
    throw new ValidationError("file:// repositories are not allowed here", {
      field: `${field}.repo`,
      fix: "use an https:// repository",
    });
  }
  if (!isFile && !ref.repo.startsWith("https://")) {
    throw new ValidationError("only https:// repositories are allowed", {
      field: `${field}.repo`,
      fix: "use an https:// repository",
    });
  }
  const gitDir = await mkdtemp(join(workDir, "git-"));
  const git = deps.gitBinary ?? "git";
  // No user or system config, no prompts, only the one protocol this ref needs.
  const env = {
    PATH: deps.path ?? process.env.PATH ?? "/usr/bin:/bin",
    HOME: workDir,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_ALLOW_PROTOCOL: isFile ? "file" : "https",
  };
  const run = (args: string[], encoding: "utf8" | "buffer" = "utf8") =>
    execa(git, args, {
      cwd: gitDir,
      env,
      extendEnv: false,
      shell: false,
      timeout: deps.gitTimeoutMs ?? 60_000,
      killDescendants: true,
      stdin: "ignore",
      maxBuffer: maxBytes + 1,
      encoding,
      // The blob's bytes are hashed as they are; a stripped final newline would change the checksum.
      stripFinalNewline: false,
      reject: false,
    });
  try {
    await run(["init", "--quiet"]);
    const fetched = await run(["fetch", "--quiet", "--depth=1", "--no-tags", ref.repo, ref.ref]);
    if (fetched.exitCode !== 0) {
      throw new UnavailableError(`git fetch of ${ref.repo} ${ref.ref} failed: ${String(fetched.stderr).trim()}`, {
        field,
        fix: "check the repository URL, the ref and the tool router's access to it",
      });
    }
    const shown = await run(["cat-file", "blob", `FETCH_HEAD:${ref.path}`], "buffer");
    if (shown.isMaxBuffer) {
      throw new PayloadTooLargeError(`artifact ${ref.path} is larger than ${maxBytes} bytes`, {
        field,
        fix: "keep artifacts small; split them or raise the limit",
      });
    }
    if (shown.exitCode !== 0) {
      throw new UnavailableError(`${ref.path} is not in ${ref.repo} at ${ref.ref}`, {
        field: `${field}.path`,
        fix: "check the file path inside the repository",
      });
    }
    const content = Buffer.from(shown.stdout as Uint8Array);
    await writeFile(file, content, { mode: 0o600 });
    return { sha256: createHash("sha256").update(content).digest("hex"), bytes: content.length };
  } finally {
    await rm(gitDir, { recursive: true, force: true });
  }
}
