import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValidationError } from "../errors/index.ts";
import { checkManifest, restoringManifest } from "./manifest.ts";

const deployment = (extra = "") => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkout${extra}
spec:
  replicas: 3
`;

describe("checkManifest", () => {
  it("accepts namespaced objects of the allowed kinds in the step's namespace (YAML, several documents, a List)", () => {
    const yaml = `${deployment()}---
apiVersion: v1
kind: Service
metadata: { name: checkout, namespace: shop }
---
`;
    assert.deepEqual(checkManifest(yaml, "shop"), [
      { apiVersion: "apps/v1", kind: "Deployment", name: "checkout" },
      { apiVersion: "v1", kind: "Service", name: "checkout" },
    ]);
    const list = JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "flags", namespace: "shop" } }],
    });
    assert.deepEqual(checkManifest(list, "shop"), [{ apiVersion: "v1", kind: "ConfigMap", name: "flags" }]);
  });

  const refused: { name: string; text: string; problem: RegExp }[] = [
    { name: "an empty manifest", text: "---\n", problem: /holds no object/ },
    { name: "invalid YAML", text: "kind: [\n", problem: /not valid YAML/ },
    {
      name: "another namespace",
      text: deployment().replace("name: checkout", "name: checkout\n  namespace: kube-system"),
      problem: /in namespace kube-system, the step applies to shop/,
    },
    {
      name: "a Secret",
      text: "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: x}\n",
      problem: /Secret db is not a kind/,
    },
    {
      name: "a cluster-scoped object",
      text: "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: own}\n",
      problem: /ClusterRoleBinding own is not a kind/,
    },
    {
      name: "a custom resource passing for a Deployment",
      text: deployment().replace("apps/v1", "evil.example.com/v1"),
      problem: /has apiVersion evil.example.com\/v1/,
    },
    { name: "an object without a name", text: "apiVersion: v1\nkind: ConfigMap\n", problem: /no valid metadata.name/ },
    { name: "a scalar document", text: "just text\n", problem: /not a mapping/ },
  ];
  for (const row of refused) {
    it(`refuses ${row.name}, naming input.manifest_ref and the fix`, () => {
      assert.throws(
        () => checkManifest(row.text, "shop"),
        (e: unknown) =>
          e instanceof ValidationError && e.field === "input.manifest_ref" && row.problem.test(e.message) && !!e.fix,
      );
    });
  }
});

describe("restoringManifest", () => {
  it("keeps what the objects were and drops what the server owns", () => {
    const live = {
      apiVersion: "v1",
      kind: "List",
      items: [
        {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: {
            name: "checkout",
            namespace: "shop",
            uid: "u-1",
            resourceVersion: "42",
            generation: 3,
            creationTimestamp: "2026-01-01T00:00:00Z",
            managedFields: [{ manager: "kubectl" }],
            labels: { app: "checkout" },
            annotations: { "deployment.kubernetes.io/revision": "3", team: "shop" },
          },
          spec: { replicas: 2 },
          status: { readyReplicas: 2 },
        },
      ],
    };
    assert.deepEqual(restoringManifest(live), {
      apiVersion: "v1",
      kind: "List",
      items: [
        {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "checkout", namespace: "shop", labels: { app: "checkout" }, annotations: { team: "shop" } },
          spec: { replicas: 2 },
        },
      ],
    });
    assert.equal(restoringManifest({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "f" } }).items.length, 1);
    assert.deepEqual(restoringManifest("").items, [], "nothing was live: nothing to put back");
  });
});
