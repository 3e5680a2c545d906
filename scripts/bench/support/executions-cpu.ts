/**
 * Where an execution benchmark's CPU goes, per process, read from /proc: the embedded process
 * (this process's child) and the processes it started and waited for (sandbox-exec and the CLIs:
 * the kernel adds a reaped child's time to its parent's `cutime`), the stack's Temporal, NATS,
 * MinIO and Postgres, and this process (the bench, with the raw baseline's worker and commands).
 * The machine is shared: only these processes' own times are theirs, the load average is not.
 */
import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100;

interface Times {
  readonly own: number;
  readonly children: number;
}

function timesOf(pid: number): Times | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command (in parentheses, may hold spaces): state is field 3, utime 14 … cstime 17.
    const fields = stat
      .slice(stat.lastIndexOf(")") + 2)
      .split(" ")
      .map(Number);
    const at = (n: number) => fields[n - 3] ?? 0;
    return { own: (at(14) + at(15)) / TICKS_PER_SECOND, children: (at(16) + at(17)) / TICKS_PER_SECOND };
  } catch {
    return null;
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return -1;
  }
}

/** The processes to account for, by name; the stack's are found by the local stack's command lines. */
function findProcesses(): Map<string, number[]> {
  const found = new Map<string, number[]>();
  const add = (name: string, pid: number) => found.set(name, [...(found.get(name) ?? []), pid]);
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const command = commandOf(pid);
    if (command.includes("services/wheelhouse/main.ts") && parentOf(pid) === process.pid) add("embedded", pid);
    else if (command.includes("temporal server start-dev") && command.includes("/.data/temporal/"))
      add("temporal", pid);
    else if (command.includes("nats-server") && command.includes("/.data/nats/")) add("nats", pid);
    else if (command.includes("minio server") && command.includes("/.data/minio")) add("minio", pid);
    else if (command.startsWith("postgres")) add("postgres", pid);
  }
  add("bench", process.pid);
  return found;
}

/** Each process's times, by pid. */
type Sample = Map<number, Times>;

function sample(processes: Map<string, number[]>): Sample {
  const out: Sample = new Map();
  for (const pids of processes.values()) {
    for (const pid of pids) {
      const t = timesOf(pid);
      if (t) out.set(pid, t);
    }
  }
  return out;
}

/** Starts counting; `report(units, unit)` answers with each process's CPU per unit since then. */
export function cpuBreakdown() {
  const processes = findProcesses();
  const before = sample(processes);
  return (units: number, unit: string): string => {
    const after = sample(processes);
    const per = (seconds: number) => `${((seconds * 1000) / Math.max(1, units)).toFixed(0)}`;
    const parts: string[] = [];
    for (const [name, pids] of processes) {
      // A process that ended in between (a Postgres backend) is left out: its times are gone.
      let own = 0;
      let children = 0;
      for (const pid of pids) {
        const start = before.get(pid);
        const end = after.get(pid);
        if (!start || !end) continue;
        own += end.own - start.own;
        children += end.children - start.children;
      }
      parts.push(children > 0.005 ? `${name} ${per(own)} + children ${per(children)}` : `${name} ${per(own)}`);
    }
    return `   CPU ms/${unit}: ${parts.join(", ")}`;
  };
}
