/** Temporal for a test: connections to the local stack's server (a test's task queue is a `uniqueName`). */
import type { Client } from "@temporalio/client";
import type { NativeConnection } from "@temporalio/worker";
import { testEnv } from "./env.ts";

export interface TestTemporal {
  /** For workers. */
  readonly workerConnection: NativeConnection;
  /** A client on the `default` namespace. */
  readonly client: Client;
  close(): Promise<void>;
}

/** Connections for a worker and a client to the local stack's Temporal. */
export async function connectTemporal(): Promise<TestTemporal> {
  // Loaded here, not at the top: the worker's native bridge takes seconds to load, and every
  // test that imports test/support would pay for it.
  const { Client, Connection } = await import("@temporalio/client");
  const { NativeConnection } = await import("@temporalio/worker");
  const workerConnection = await NativeConnection.connect({ address: testEnv.temporalAddress });
  const connection = await Connection.connect({ address: testEnv.temporalAddress });
  return {
    workerConnection,
    client: new Client({ connection, namespace: "default" }),
    async close() {
      await connection.close();
      await workerConnection.close();
    },
  };
}
