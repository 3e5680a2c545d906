import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newEvent } from "../../events/index.ts";
import { recorded } from "../../test/support/events.ts";
import { contextHistory } from "../fixtures.ts";
import { edgeKey, emptyChanges, evolveGraph } from "./fold.ts";

const system = { kind: "service" as const, id: "sync", roles: [] };

describe("context fold", () => {
  it("given no changes, when services and their edges are upserted, then the batch holds each once", () => {
    const events = recorded([...contextHistory(3).flat(), ...contextHistory(1).flat()]);
    const changes = events.reduce(evolveGraph, emptyChanges());
    assert.equal(changes.nodes.size, 3);
    assert.equal(changes.edges.size, 3);
    assert.equal(changes.nodes.get("svc-0")?.last_seq, 7, "the later upsert wins");
    assert.equal(changes.removed.size, 0);
  });

  it("given a node with edges, when the node is removed, then it and its edges are removed", () => {
    const events = recorded([
      ...contextHistory(2).flat(),
      newEvent("context.node_removed", "svc-1", { node_id: "svc-1" }, { actor: system, correlation_id: "c" }),
    ]);
    const changes = events.reduce(evolveGraph, emptyChanges());
    assert.equal(changes.nodes.get("svc-1"), null);
    assert.equal(changes.edges.get(edgeKey({ from_node: "svc-1", to_node: "cluster-1", kind: "runs_in" })), null);
    assert.deepEqual([...changes.removed], ["svc-1"]);
    assert.ok(changes.nodes.get("svc-0"));
  });

  it("given an edge, when it is removed, then the batch deletes it; upserted again, it is written", () => {
    const edge = { from_node: "svc-0", to_node: "cluster-1", kind: "runs_in" as const };
    const removed = recorded([
      ...contextHistory(1).flat(),
      newEvent("context.edge_removed", "svc-0", edge, { actor: system, correlation_id: "c" }),
    ]).reduce(evolveGraph, emptyChanges());
    assert.equal(removed.edges.get(edgeKey(edge)), null);
    assert.ok(removed.nodes.get("svc-0"), "the node stays");
    const again = recorded([
      newEvent("context.edge_removed", "svc-0", edge, { actor: system, correlation_id: "c" }),
      newEvent("context.edge_upserted", "svc-0", edge, { actor: system, correlation_id: "c" }),
    ]).reduce(evolveGraph, emptyChanges());
    assert.ok(again.edges.get(edgeKey(edge)));
  });

  it("given a removed node, when it is upserted again in the same batch, then it is written again", () => {
    const events = recorded([
      ...contextHistory(1).flat(),
      newEvent("context.node_removed", "svc-0", { node_id: "svc-0" }, { actor: system, correlation_id: "c" }),
      ...contextHistory(1).flat(),
    ]);
    const changes = events.reduce(evolveGraph, emptyChanges());
    assert.equal(changes.nodes.get("svc-0")?.last_seq, 4);
    assert.ok(changes.edges.get(edgeKey({ from_node: "svc-0", to_node: "cluster-1", kind: "runs_in" })));
    assert.ok(changes.removed.has("svc-0"), "old edges are deleted before the new rows are written");
  });
});
