/**
 * A branch of a pull request, made with the real `git` binary: clone the base
 * branch shallowly into a temporary folder, write the files, commit them on a
 * new branch and push it (never forced). Pushing again is safe: when the
 * branch is already there holding exactly these files (an earlier attempt
 * pushed it), nothing is pushed; when it holds anything else it is someone
 * else's, and the push is refused with the fix (another branch name).
 *
 * git runs with a throwaway HOME and no system config, so a person's git
 * settings (signing, hooks, credential helpers) never change what is pushed.
 * An http(s) remote gets the token as an `Authorization` header through
 * git's environment config (`GIT_CONFIG_*`), never on the command line.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { NotFoundError, UnavailableError, ValidationError } from "../errors/index.ts";
import { createSecretScrubber } from "../redact/index.ts";

export interface BranchFile {
  /** Relative to the repository's root; no `..`, not inside `.git`. */
  readonly path: string;
  readonly content: string;
}

export interface BranchPush {
  /** Where the repository is fetched from and pushed to (file://, https://…). */
  readonly cloneUrl: string;
  readonly base: string;
  readonly branch: string;
  readonly files: readonly BranchFile[];
  readonly message: string;
  readonly author: { readonly name: string; readonly email: string };
  /** Sent as HTTP basic auth (`x-access-token`, as GitHub takes a token) to an http(s) remote. */
  readonly token?: string | null | undefined;
}

export interface PushedBranch {
  /** The branch head's commit. */
  readonly commit: string;
  /** False when the branch was already there with these files. */
  readonly pushed: boolean;
}

/** Refuses what git would take badly or what would write outside the clone. */
function checkFiles(files: readonly BranchFile[]): void {
  if (files.length === 0) {
    throw new ValidationError("a pull request needs at least one file", {
      field: "files",
      fix: "pass the files the pull request changes as {path, content}",
    });
  }
  for (const { path } of files) {
    const parts = path.split("/");
    if (
      path === "" ||
      path.startsWith("/") ||
      parts.some((p) => p === "" || p === "." || p === "..") ||
      parts[0] === ".git"
    ) {
      throw new ValidationError(`file path "${path}" is not a plain relative path inside the repository`, {
        field: "files.path",
        fix: "use a relative path such as deploy/values.yaml, without .., a leading / or .git",
      });
    }
  }
}

export async function pushBranch(push: BranchPush): Promise<PushedBranch> {
  checkFiles(push.files);
  const work = await mkdtemp(join(tmpdir(), "wh-branch-"));
  const scrub = createSecretScrubber(push.token ? [push.token] : []);
  const remoteIsHttp = /^https?:\/\//i.test(push.cloneUrl);
  const env: Record<string, string> = {
    HOME: work,
    XDG_CONFIG_HOME: work,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_TERMINAL_PROMPT: "0",
    LC_ALL: "C",
    GIT_AUTHOR_NAME: push.author.name,
    GIT_AUTHOR_EMAIL: push.author.email,
    GIT_COMMITTER_NAME: push.author.name,
    GIT_COMMITTER_EMAIL: push.author.email,
    ...(remoteIsHttp && push.token
      ? {
          GIT_CONFIG_COUNT: "1",
          GIT_CONFIG_KEY_0: "http.extraHeader",
          GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`x-access-token:${push.token}`).toString("base64")}`,
        }
      : {}),
  };
  const repo = join(work, "repo");
  const git = async (args: string[], cwd = repo) => {
    const result = await execa("git", args, { cwd, env, reject: false, stdin: "ignore", stripFinalNewline: false });
    return { ok: result.exitCode === 0, stdout: String(result.stdout), stderr: scrub(String(result.stderr)) };
  };
  const fail = (step: string, stderr: string) =>
    new UnavailableError(`git ${step} for ${scrub(push.cloneUrl)} failed: ${stderr.trim().slice(-500)}`, {
      field: "connectors.github.git_base",
      fix: "check that the repository is reachable at that address and the token may push to it",
    });

  try {
    if (!(await git(["check-ref-format", "--branch", push.branch], work)).ok || push.branch === push.base) {
      throw new ValidationError(`"${push.branch}" is not a branch name git takes, or it is the base branch`, {
        field: "branch",
        fix: "name a new branch such as wheelhouse/plan-1234",
      });
    }
    const clone = await git(
      ["clone", "--quiet", "--depth=1", "--single-branch", `--branch=${push.base}`, push.cloneUrl, repo],
      work,
    );
    if (!clone.ok) {
      if (/Remote branch .* not found/i.test(clone.stderr)) {
        throw new ValidationError(`the repository has no branch "${push.base}" to base the pull request on`, {
          field: "base",
          fix: "name an existing branch as the base (e.g. main)",
        });
      }
      if (/not found|does not appear to be a git repository|does not exist/i.test(clone.stderr)) {
        throw new NotFoundError(`no repository at ${scrub(push.cloneUrl)}: ${clone.stderr.trim().slice(-300)}`, {
          field: "repo",
          fix: "check the repository name and connectors.github.git_base",
        });
      }
      throw fail("clone", clone.stderr);
    }
    const existing = await branchAlready(git, push);
    if (existing) return { commit: existing, pushed: false };

    if (!(await git(["checkout", "--quiet", "-b", push.branch])).ok) throw fail("checkout", "");
    for (const file of push.files) {
      await mkdir(dirname(join(repo, file.path)), { recursive: true });
      await writeFile(join(repo, file.path), file.content);
    }
    await git(["add", "--", ...push.files.map((f) => f.path)]);
    const commit = await git(["commit", "--quiet", "--no-verify", "-m", push.message]);
    if (!commit.ok) {
      throw new ValidationError(`the files already hold this content on ${push.base}: there is nothing to propose`, {
        field: "files",
        fix: "change at least one file's content",
      });
    }
    const sha = (await git(["rev-parse", "HEAD"])).stdout.trim();
    const pushed = await git(["push", "--quiet", "--no-verify", "origin", `HEAD:refs/heads/${push.branch}`]);
    if (!pushed.ok) {
      // Another attempt may have pushed the same branch in the meantime: then that one is ours.
      const raced = await branchAlready(git, push);
      if (raced) return { commit: raced, pushed: false };
      throw fail("push", pushed.stderr);
    }
    return { commit: sha, pushed: true };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

type Git = (args: string[]) => Promise<{ ok: boolean; stdout: string; stderr: string }>;

/**
 * The head commit of `push.branch` when the remote already has it holding every file as given;
 * null when it has no such branch. A branch holding anything else is refused.
 */
async function branchAlready(git: Git, push: BranchPush): Promise<string | null> {
  const listed = await git(["ls-remote", "--heads", "origin", `refs/heads/${push.branch}`]);
  if (!listed.ok) {
    throw new UnavailableError(`git ls-remote failed: ${listed.stderr.trim().slice(-300)}`, {
      field: "connectors.github.git_base",
      fix: "check that the repository is reachable",
    });
  }
  const sha = listed.stdout.trim().split(/\s+/)[0];
  if (!sha) return null;
  const fetched = await git(["fetch", "--quiet", "--depth=1", "origin", `refs/heads/${push.branch}`]);
  if (!fetched.ok) throw new UnavailableError(`git fetch of ${push.branch} failed: ${fetched.stderr.trim()}`);
  for (const file of push.files) {
    const shown = await git(["show", `FETCH_HEAD:${file.path}`]);
    if (!shown.ok || shown.stdout !== file.content) {
      throw new ValidationError(`branch "${push.branch}" already exists with other content`, {
        field: "branch",
        fix: "name a branch no one else uses for this change",
      });
    }
  }
  return sha;
}
