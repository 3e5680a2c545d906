/** A git repository of the test's own, for `git_path` artifacts (`file://` remotes). */
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";

export interface TestGitRepo {
  /** The repository's folder; `file://<path>` is its remote. */
  readonly path: string;
  /** Runs git in the repository as a fixed author. */
  git(...args: string[]): Promise<unknown>;
  /**
   * Writes and commits `file` on main, and names it as an artifact: a `git_path` ref at `ref`
   * (main unless given) with the content's sha256.
   */
  commit(
    file: string,
    content: string,
    ref?: string,
  ): Promise<{ kind: "git_path"; repo: string; ref: string; path: string; sha256: string }>;
}

/** `git init` at `path` (branch main). */
export async function createTestGitRepo(path: string): Promise<TestGitRepo> {
  await execa("git", ["init", "--quiet", "--initial-branch=main", path]);
  const git = (...args: string[]) =>
    execa("git", args, {
      cwd: path,
      env: { GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@e", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@e" },
    });
  return {
    path,
    git,
    async commit(file, content, ref = "main") {
      await writeFile(join(path, file), content);
      await git("add", file);
      await git("commit", "--quiet", "-m", file);
      const sha256 = createHash("sha256").update(content).digest("hex");
      return { kind: "git_path", repo: `file://${path}`, ref, path: file, sha256 };
    },
  };
}
