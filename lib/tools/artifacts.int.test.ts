import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createTestGitRepo, minioClient, removeBuckets, uniqueBucketName } from "../../test/support/index.ts";
import { ArtifactIntegrityError, type ArtifactRef, createArtifactResolver } from "./artifacts.ts";
import { buildCommand } from "./builders.ts";
import { createSandbox } from "./sandbox.ts";

const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");
const VALUES = "replicaCount: 3\nimage:\n  tag: 1.2.3\n";

/** Runs a helm-shaped call through the sandbox, so "stops before anything runs" is observable. */
async function runWithValues(ref: ArtifactRef, resolver: ReturnType<typeof createArtifactResolver>) {
  const ran: string[][] = [];
  const sandbox = createSandbox({ envAllow: ["PATH"] });
  const result = await sandbox.run({
    argv: async ({ workDir }) => {
      const values = await resolver.resolve(ref, workDir);
      const argv = buildCommand(
        "helm.template",
        { release: "web", chart: "bitnami/nginx", namespace: "shop", values_ref: ref },
        { valuesFile: values.path },
      );
      // Run `cat` on the values file instead of helm: what matters is that the verified file is what the tool reads.
      const cmd = ["cat", argv.find((a) => a.startsWith("--values="))?.slice("--values=".length) ?? "/nonexistent"];
      ran.push(cmd);
      return cmd;
    },
  });
  return { result, ran };
}

describe("artifacts: git_path", () => {
  let dir: string;
  let repo: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wh-art-git-"));
    repo = join(dir, "repo");
    const { git, commit } = await createTestGitRepo(repo);
    await commit("values.yaml", VALUES);
    await git("tag", "v1");
    // Tamper after the plan was made: main moves on, v1 stays.
    await writeFile(join(repo, "values.yaml"), `${VALUES}evil: true\n`);
    await git("commit", "--quiet", "-am", "tamper");
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const resolver = createArtifactResolver({ allowFileRepos: true });

  it("fetches and verifies a file at a ref, and the tool reads exactly that", async () => {
    const ref: ArtifactRef = {
      kind: "git_path",
      repo: `file://${repo}`,
      ref: "v1",
      path: "values.yaml",
      sha256: sha(VALUES),
    };
    const { result } = await runWithValues(ref, resolver);
    assert.equal(result.exit_code, 0);
    assert.equal(result.stdout.text, VALUES.trimEnd());
  });

  it("stops before anything runs when the content at the ref does not match", async () => {
    const ref: ArtifactRef = {
      kind: "git_path",
      repo: `file://${repo}`,
      ref: "main",
      path: "values.yaml",
      sha256: sha(VALUES),
    };
    let ran: string[][] = [];
    await assert.rejects(
      (async () => {
        ran = (await runWithValues(ref, resolver)).ran;
      })(),
      (e: unknown) =>
        e instanceof ArtifactIntegrityError && e.expected === sha(VALUES) && e.code === "precondition_failed",
    );
    assert.deepEqual(ran, [], "no command was built or run");
  });

  it("refuses file:// remotes unless allowed, and missing paths", async () => {
    const ref: ArtifactRef = {
      kind: "git_path",
      repo: `file://${repo}`,
      ref: "v1",
      path: "values.yaml",
      sha256: sha(VALUES),
    };
    const work = await mkdtemp(join(tmpdir(), "wh-art-w-"));
    try {
      await assert.rejects(createArtifactResolver().resolve(ref, work), /file:\/\/ repositories are not allowed/);
      await assert.rejects(resolver.resolve({ ...ref, path: "nope.yaml" }, work), /is not in/);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe("artifacts: object_store (MinIO)", () => {
  const client = minioClient();
  const bucket = uniqueBucketName("art");

  before(async () => {
    await client.makeBucket(bucket);
    await client.putObject(bucket, "web/values.yaml", Buffer.from(VALUES));
  });
  after(async () => {
    await removeBuckets(client, bucket);
  });

  it("fetches and verifies an object", async () => {
    const resolver = createArtifactResolver({ objectStore: client });
    const ref: ArtifactRef = { kind: "object_store", bucket, key: "web/values.yaml", sha256: sha(VALUES) };
    const { result } = await runWithValues(ref, resolver);
    assert.equal(result.stdout.text, VALUES.trimEnd());
  });

  it("stops before anything runs when the object was tampered with", async () => {
    await client.putObject(bucket, "web/tampered.yaml", Buffer.from(`${VALUES}evil: true\n`));
    const resolver = createArtifactResolver({ objectStore: client });
    const ref: ArtifactRef = { kind: "object_store", bucket, key: "web/tampered.yaml", sha256: sha(VALUES) };
    let ran: string[][] = [];
    await assert.rejects(
      (async () => {
        ran = (await runWithValues(ref, resolver)).ran;
      })(),
      (e: unknown) => e instanceof ArtifactIntegrityError && e.actual === sha(`${VALUES}evil: true\n`),
    );
    assert.deepEqual(ran, []);
  });

  it("refuses an object larger than the limit", async () => {
    await client.putObject(bucket, "web/big.yaml", Buffer.alloc(2048, 97));
    const resolver = createArtifactResolver({ objectStore: client, maxBytes: 1024 });
    const work = await mkdtemp(join(tmpdir(), "wh-art-w-"));
    try {
      await assert.rejects(
        resolver.resolve({ kind: "object_store", bucket, key: "web/big.yaml", sha256: "0".repeat(64) }, work),
        /larger than 1024 bytes/,
      );
      assert.equal(
        await readFile(join(work, "artifacts", "0000000000000000-object_store"), "utf8").catch(() => "gone"),
        "gone",
      );
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
