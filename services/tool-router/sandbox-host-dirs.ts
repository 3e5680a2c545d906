/**
 * The folders the tool router gives its sandbox hosts, and what a host leaves in its folder when it dies.
 *
 * Each host gets a folder of its own, `<temp>/wh-sandbox-host-XXXXXX` (0700), passed as `--work-root`:
 * its calls' work dirs are made in it, and it records each CLI the moment it spawns it
 * (`cli-<pid>.json`, lib/tools/sandbox-protocol.ts). Beside them, the files `router` and `host`
 * name the processes that own the folder as `<pid> <start time>` (the start time from /proc, `-`
 * without /proc), so that a pid the system has since given to another process is not taken for
 * an owner.
 *
 * - `reapHostDir`, when a host has ended: kills the process groups recorded there and, where /proc
 *   exists, every process whose working directory is in the folder (a CLI spawned in the instant
 *   before it was recorded, a git fetch of an artifact); removes the folder; then looks once more,
 *   for a process that entered its work dir while the folder was being removed.
 * - `sweepStaleHostDirs`: removes the folders whose router and host are both gone (a router that
 *   crashed or was killed, a host that outlived it; a folder with neither file only when it is empty
 *   and a minute old). There a recorded group is not killed on the
 *   record's word: the record may be old and its pid reused. A process is killed (with its group)
 *   only if its working directory is in the folder, which no unrelated process has. Without /proc
 *   nothing is killed there, and a folder whose recorded groups still exist is left for a later sweep.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from "node:fs";
import { lstat, readdir, readFile, rm, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { parseSandboxCliRecord, parseSandboxCliRecordName, type SandboxCliRecord } from "../../lib/tools/index.ts";

/** The start of every host folder's name. */
export const HOST_DIR_PREFIX = "wh-sandbox-host-";

/** A folder without an owner file may be one another router is making; once this old and empty, it is removed. */
const UNOWNED_GRACE_MS = 60_000;
const HAS_PROC = existsSync("/proc/self/stat");

/** A process as `<pid> <start time>`, which stays unique when the pid is reused. */
export function processIdentity(pid: number): string {
  return `${pid} ${procStat(pid)?.start ?? "-"}`;
}

/** Makes a host's folder (0700) in `root` and records the router that owns it; returns its real path. */
export function createHostDir(root: string, routerIdentity: string): string {
  const dir = mkdtempSync(join(realpathSync(root), HOST_DIR_PREFIX));
  writeFileSync(join(dir, "router"), routerIdentity, { mode: 0o600 });
  return dir;
}

/** Records the host that works in `dir` (best effort: without it the folder is judged by its router). */
export function recordHost(dir: string, pid: number): void {
  try {
    writeFileSync(join(dir, "host"), processIdentity(pid), { mode: 0o600 });
  } catch {
    // The router file still ties the folder to a live owner; the sweep then waits for the router to go.
  }
}

/** The CLIs a host recorded in its folder: each pid, with its record when that was written whole. */
export function readCliRecords(dir: string): { pid: number; record: SandboxCliRecord | null }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const pid = parseSandboxCliRecordName(name);
    if (pid === null) return [];
    let record: SandboxCliRecord | null = null;
    try {
      record = parseSandboxCliRecord(readFileSync(join(dir, name), "utf8"));
    } catch {
      // Gone or unreadable: the pid in its name is still known.
    }
    return [{ pid, record }];
  });
}

/**
 * Kills what a host that has ended left running (its recorded groups, the processes working in its
 * folder) and removes the folder; resolves with the process groups signalled.
 */
export async function reapHostDir(dir: string, recordedGroups: readonly number[]): Promise<number[]> {
  const killed = new Set<number>();
  for (const pgid of recordedGroups) if (killGroup(pgid)) killed.add(pgid);
  for (const found of processesWorkingIn(dir) ?? []) killed.add(killProcessGroup(found));
  await rm(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
  for (const found of processesWorkingIn(dir) ?? []) killed.add(killProcessGroup(found));
  return [...killed];
}

/** A stale host folder the sweep removed, and the process groups it killed there. */
export interface SweptHostDir {
  readonly dir: string;
  readonly killedGroups: readonly number[];
}

/**
 * Removes the host folders in `root` whose router and host are both gone, killing only the
 * processes still working in them (see the file's comment). `skip`: this router's own folders.
 */
export async function sweepStaleHostDirs(root: string, skip: ReadonlySet<string>): Promise<SweptHostDir[]> {
  let names: string[];
  let base: string;
  try {
    base = realpathSync(root);
    names = (await readdir(base)).filter((name) => name.startsWith(HOST_DIR_PREFIX));
  } catch {
    return [];
  }
  const swept: SweptHostDir[] = [];
  for (const name of names) {
    const dir = join(base, name);
    if (skip.has(dir)) continue;
    try {
      // Only a real folder of this user's: not a link planted in a shared temp folder, not another user's.
      const info = await lstat(dir);
      if (!info.isDirectory() || (process.getuid !== undefined && info.uid !== process.getuid())) continue;
      const owners = await ownersOf(dir);
      if (owners === null) {
        // A router that died between making the folder and naming itself in it left it empty;
        // anything else of that name is not known to be ours and stays.
        if (Date.now() - info.mtimeMs > UNOWNED_GRACE_MS) await rmdir(dir);
        continue;
      }
      if (owners.some(identityAlive)) continue;
      const working = processesWorkingIn(dir);
      // Without /proc a live process cannot be told to be ours: leave the folder while its groups exist.
      if (working === null && readCliRecords(dir).some(({ pid }) => groupExists(pid))) continue;
      const killed = new Set((working ?? []).map(killProcessGroup));
      await rm(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
      for (const found of processesWorkingIn(dir) ?? []) killed.add(killProcessGroup(found));
      swept.push({ dir, killedGroups: [...killed] });
    } catch {
      // Not ours to remove, or already gone: the next sweep looks again.
    }
  }
  return swept;
}

/** The identities written in a host folder's `router` and `host` files; null when it has neither. */
async function ownersOf(dir: string): Promise<string[] | null> {
  const owners = await Promise.all(
    ["router", "host"].map((file) => readFile(join(dir, file), "utf8").catch(() => null)),
  );
  const known = owners.filter((owner) => owner !== null);
  return known.length > 0 ? known : null;
}

/** Whether the process written as `<pid> <start time>` is still that process, and not a zombie. */
function identityAlive(identity: string): boolean {
  const [pidText, start] = identity.trim().split(" ");
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (HAS_PROC) {
    const now = procStat(pid);
    return now !== null && now.state !== "Z" && (start === "-" || now.start === start);
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The fields of /proc/<pid>/stat used here; null when the process is gone or there is no /proc. */
function procStat(pid: number): { state: string; pgid: number; start: string } | null {
  if (!HAS_PROC) return null;
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // After the command's closing parenthesis: state, ppid, pgrp, ... with the start time 20th (field 22).
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0] ?? "", pgid: Number(fields[2]), start: fields[19] ?? "-" };
  } catch {
    return null;
  }
}

/** The processes whose working directory is `dir` or below (removed or not); null without /proc. */
function processesWorkingIn(dir: string): { pid: number; pgid: number }[] | null {
  if (!HAS_PROC) return null;
  const found: { pid: number; pgid: number }[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isSafeInteger(pid) || pid === process.pid) continue;
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`).replace(/ \(deleted\)$/, "");
    } catch {
      continue; // gone, or not ours to look at
    }
    if (cwd !== dir && !cwd.startsWith(`${dir}/`)) continue;
    const pgid = procStat(pid)?.pgid;
    if (pgid !== undefined && Number.isSafeInteger(pgid)) found.push({ pid, pgid });
  }
  return found;
}

const OWN_GROUP = procStat(process.pid)?.pgid ?? null;

/** SIGKILLs the process's group; only the process itself when its group is the router's own. */
function killProcessGroup({ pid, pgid }: { pid: number; pgid: number }): number {
  if (pgid > 1 && pgid !== OWN_GROUP && killGroup(pgid)) return pgid;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // ESRCH: already gone.
  }
  return pid;
}

/** SIGKILLs a process group; false when there is none (or it is the router's own, which is never hit). */
function killGroup(pgid: number): boolean {
  if (pgid <= 1 || pgid === OWN_GROUP) return false;
  try {
    process.kill(-pgid, "SIGKILL");
    return true;
  } catch {
    return false;
  }
}

function groupExists(pgid: number): boolean {
  if (pgid <= 1) return false;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
