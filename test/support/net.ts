/** Ports for servers and child processes a test starts. */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";

/** A port on 127.0.0.1 held open by this process (as another process would hold it), with its server. */
export async function holdPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  assert.ok(address && typeof address === "object", "the held server has a TCP address");
  return { port: address.port, server };
}

/** A port on 127.0.0.1 that was free a moment ago, for a child process to listen on. */
export async function freePort(): Promise<number> {
  const { port, server } = await holdPort();
  await new Promise((resolve) => server.close(resolve));
  return port;
}
