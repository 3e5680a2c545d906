/**
 * An execution's live tool output: `GET /v1/executions/{id}/logs` (text/event-stream) read with
 * fetch, because EventSource cannot send the bearer token. A dropped stream is resumed with
 * `Last-Event-ID`, so no chunk is shown twice or lost; the caller stops it when the execution ends.
 */
import type { operations } from "./api/schema";

export type LogChunk = operations["streamExecutionLogs"]["responses"][200]["content"]["text/event-stream"];

export interface LogFollower {
  stop(): void;
}

/** Reads SSE frames (`id:`, `data:` lines ending with a blank line) from a byte stream. */
export async function readEvents(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: { id: string | null; data: string }) => void,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replaceAll("\r\n", "\n");
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let id: string | null = null;
      const data: string[] = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("id:")) id = line.slice(3).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length > 0) onEvent({ id, data: data.join("\n") });
      end = buffer.indexOf("\n\n");
    }
  }
}

export function followLogs(
  executionId: string,
  token: () => Promise<string | null>,
  /** `streamSeq`: the chunk's position in the output stream (SSE `id:`), unique across the execution's calls. */
  onChunk: (chunk: LogChunk, streamSeq: number | null) => void,
  onError: (message: string) => void,
): LogFollower {
  const controller = new AbortController();
  let lastId: string | null = null;
  let stopped = false;

  const run = async () => {
    let failures = 0;
    while (!stopped) {
      try {
        const bearer = await token();
        if (!bearer) return;
        const headers: Record<string, string> = { accept: "text/event-stream", authorization: `Bearer ${bearer}` };
        if (lastId !== null) headers["last-event-id"] = lastId;
        const response = await fetch(`/v1/executions/${encodeURIComponent(executionId)}/logs`, {
          headers,
          signal: controller.signal,
        });
        if (!response.ok || !response.body) throw new Error(`the log stream answered ${response.status}`);
        failures = 0;
        await readEvents(response.body, (event) => {
          if (event.id !== null) lastId = event.id;
          onChunk(JSON.parse(event.data) as LogChunk, event.id === null ? null : Number(event.id));
        });
      } catch (error) {
        if (stopped) return;
        failures += 1;
        if (failures >= 3)
          onError(`the live log stopped: ${(error as Error).message}; it resumes when the gateway answers again`);
      }
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 500 * 2 ** failures)));
    }
  };
  void run();
  return {
    stop() {
      stopped = true;
      controller.abort();
    },
  };
}
