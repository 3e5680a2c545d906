/**
 * A recorded history JSON file (the Temporal CLI's `workflow show --output
 * json`) as the History the replayer takes.
 *
 * Why not hand the JSON to `Worker.runReplayHistory` as it is: the SDK's
 * own reader (`historyFromJSON` in @temporalio/common) fails with "type must
 * be a Type" in this install. `@temporalio/common` and `@temporalio/proto`
 * each get their own copy of protobufjs 8 (the top level holds protobufjs 7
 * for gRPC's proto-loader), and the reader checks the history type against
 * the other copy's class. So the JSON is read here with the protobufjs copy
 * `@temporalio/proto` itself resolves: the same ProtoJSON parse, on types of
 * its own copy. Should the copies ever be one, this reads the same way.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { temporal } from "@temporalio/proto";

type History = temporal.api.history.v1.IHistory;

interface ProtoJson {
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}

const requireHere = createRequire(import.meta.url);
const protoEntry = requireHere.resolve("@temporalio/proto");
const requireFromProto = createRequire(protoEntry);
const protoRoot = requireFromProto(protoEntry) as Record<string, unknown>;
const { patchProtobufRoot } = requireFromProto("@temporalio/proto/lib/patch-protobuf-root") as {
  patchProtobufRoot<T>(root: T): T;
};
const { fromJson } = requireFromProto("protobufjs/ext/protojson") as ProtoJson;
const historyType = (patchProtobufRoot(protoRoot) as unknown as { lookupType(name: string): unknown }).lookupType(
  "temporal.api.history.v1.History",
);

/** The history in `file`, parsed as ProtoJSON; fields a newer server added are ignored. */
export function readHistory(file: string): History {
  return historyFromJson(JSON.parse(readFileSync(file, "utf8")));
}

export function historyFromJson(json: unknown): History {
  return fromJson(historyType, json, { ignoreUnknownFields: true }) as History;
}
