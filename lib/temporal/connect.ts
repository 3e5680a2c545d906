/**
 * One way to reach Temporal for every Wheelhouse process: a worker connection (native) and a client
 * on its own connection, both closed together; an unreachable server is one line naming the field
 * and the fix, not a stack trace.
 */
import { Client, Connection } from "@temporalio/client";
import { NativeConnection } from "@temporalio/worker";
import { UnavailableError } from "../errors/index.ts";

export interface TemporalConnections {
  readonly workerConnection: NativeConnection;
  readonly client: Client;
  close(): Promise<void>;
}

export async function connectTemporal(settings: {
  readonly temporal_address: string;
  readonly namespace: string;
}): Promise<TemporalConnections> {
  const unreachable = (cause: unknown) =>
    new UnavailableError(`cannot reach Temporal at ${settings.temporal_address}: ${(cause as Error).message}`, {
      cause,
      field: "orchestrator.temporal_address",
      fix: "start the local stack with `scripts/infra up`, or set WHEELHOUSE_ORCHESTRATOR__TEMPORAL_ADDRESS",
    });
  const workerConnection = await NativeConnection.connect({ address: settings.temporal_address }).catch((cause) => {
    throw unreachable(cause);
  });
  let clientConnection: Connection;
  try {
    clientConnection = await Connection.connect({ address: settings.temporal_address });
  } catch (cause) {
    await workerConnection.close();
    throw unreachable(cause);
  }
  return {
    workerConnection,
    client: new Client({ connection: clientConnection, namespace: settings.namespace }),
    async close() {
      await clientConnection.close();
      await workerConnection.close();
    },
  };
}
