/**
 * The lines of recent tool calls, kept in memory for StreamToolLogs: a
 * bounded number of lines per call and of finished calls, each call's
 * readers woken as lines arrive and when it ends.
 */
import { UnavailableError } from "../../lib/errors/index.ts";
import type { OutputLine } from "../../lib/tools/index.ts";
import type { StreamToolLogsRequest, ToolCallStatus, ToolLogMessage } from "../../schemas/rpc/tool-router.ts";

interface CallLog {
  lines: Array<Extract<ToolLogMessage, { type: "output" }>>;
  dropped: number;
  started: boolean;
  end: ToolCallStatus | null;
  waiters: Set<() => void>;
}

export interface CallLogs {
  /** The call has started: its readers stop waiting for it to appear. */
  started(toolCallId: string): void;
  line(toolCallId: string, line: OutputLine): void;
  ended(toolCallId: string, status: ToolCallStatus): void;
  /** Lines of a call from `from_seq`, live until it ends; waits up to `wait_ms` for a call that has not started yet. */
  stream(request: StreamToolLogsRequest): AsyncIterable<ToolLogMessage>;
}

export function createCallLogs(options: { linesPerCall: number; callsKept: number }): CallLogs {
  const logs = new Map<string, CallLog>();

  const logFor = (id: string): CallLog => {
    let log = logs.get(id);
    if (!log) {
      log = { lines: [], dropped: 0, started: false, end: null, waiters: new Set() };
      logs.set(id, log);
      // Map keeps insertion order: forget the oldest finished calls first.
      if (logs.size > options.callsKept) {
        for (const [key, value] of logs) {
          if (logs.size <= options.callsKept) break;
          if (value.end !== null) logs.delete(key);
        }
      }
    }
    return log;
  };
  const wake = (log: CallLog) => {
    for (const w of log.waiters) w();
    log.waiters.clear();
  };

  return {
    started(toolCallId) {
      const log = logFor(toolCallId);
      log.started = true;
      wake(log);
    },
    line(toolCallId, line) {
      const log = logFor(toolCallId);
      if (log.lines.length >= options.linesPerCall) {
        log.lines.shift();
        log.dropped++;
      }
      log.lines.push({ type: "output", seq: line.seq, stream: line.stream, line: line.line });
      wake(log);
    },
    ended(toolCallId, status) {
      const log = logFor(toolCallId);
      log.end = status;
      wake(log);
    },
    async *stream({ tool_call_id, from_seq = 0, wait_ms = 30_000 }) {
      const log = logFor(tool_call_id);
      let next = from_seq;
      const deadline = Date.now() + wait_ms;
      for (;;) {
        for (const line of log.lines) {
          if (line.seq >= next) {
            next = line.seq + 1;
            yield line;
          }
        }
        if (log.end !== null) {
          yield { type: "end", status: log.end };
          return;
        }
        const quiet = !log.started;
        const remaining = deadline - Date.now();
        if (quiet && remaining <= 0) {
          throw new UnavailableError(`no tool call ${tool_call_id} started within ${wait_ms} ms`, {
            field: "tool_call_id",
            fix: "start the call with ExecuteTool, or check the id",
          });
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, quiet ? remaining : 60_000);
          log.waiters.add(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
  };
}
