/**
 * The README's quick start, end to end, as a user runs it: the embedded process started as
 * `npm start` starts it (scripts/start: the local cluster's kubeconfig, the `embedded` NATS user,
 * evidence in MinIO, the demo shop installed), then only the CLI and `kubectl`:
 * plan "scale checkout to 6 in staging" → alice cannot approve her own plan → bob approves →
 * execute → status shows the execution succeeded → `kubectl get deploy checkout -n shop-staging`
 * shows 6 replicas ready → explain shows the real argv, the output, the verification and the
 * context snapshot the plan was made from.
 *
 * Isolation: its own NATS prefix, Postgres schema, task queue, buckets, data directory and ports.
 * The demo shop's namespaces are not configurable (and the planner refuses a service two
 * namespaces of one environment share), so it acts on shop-staging/checkout: scaled to the
 * demo's 2 replicas before, and put back to what it ran before the test afterwards.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { execa } from "execa";
import { type EmbeddedSystem, kubectl, kubeGet, startEmbedded, waitFor } from "../../test/support/index.ts";

const root = import.meta.dirname.replace(/\/services\/cli$/, "");
const NAMESPACE = "shop-staging";
const INTENT = "scale checkout to 6 in staging";

interface Deployment {
  readonly spec: { readonly replicas: number };
  readonly status: { readonly readyReplicas?: number; readonly updatedReplicas?: number };
}

describe("quick start (README): npm start, then plan → approve → execute → explain through the CLI", () => {
  let system: EmbeddedSystem;
  let replicasBefore: number | null = null;

  const checkout = () => kubeGet<Deployment>("deployment", "checkout", `--namespace=${NAMESPACE}`);
  const scaleCheckout = async (replicas: number) => {
    await kubectl(["scale", "deployment/checkout", `--namespace=${NAMESPACE}`, `--replicas=${replicas}`]);
    await kubectl(["rollout", "status", "deployment/checkout", `--namespace=${NAMESPACE}`, "--timeout=60s"]);
  };

  before(async () => {
    // `npm start` installs the demo shop (idempotent); the flow starts from the demo's 2 replicas.
    await execa("bash", ["infra/demo-shop/install.sh"], { cwd: root });
    replicasBefore = (await checkout())?.spec.replicas ?? null;
    await scaleCheckout(2);
    system = await startEmbedded("qs");
  });

  after(async () => {
    await system?.stop();
    if (replicasBefore !== null) await scaleCheckout(replicasBefore);
  });

  const token = (sub: string, roles: string) => system.token(sub, roles);
  const wheelhouse = (bearer: string, ...args: string[]) => system.cli(bearer, ...args);

  it("scales shop-staging/checkout to 6 for real, approved by bob, and explains it", async () => {
    const alice = await token("alice", "operator,approver");
    const bob = await token("bob", "approver");

    // The graph comes from the cluster: checkout at the demo's 2 replicas, with its HPA and dependencies.
    await waitFor(
      "the context service to show checkout at 2 replicas in staging",
      async () => {
        const res = await fetch(`${system.url}/v1/context/services/checkout?environment=staging`, {
          headers: { authorization: `Bearer ${alice}` },
        });
        const service = (await res.json()) as { namespace?: string; replicas?: { desired: number | null } };
        return res.ok && service.namespace === NAMESPACE && service.replicas?.desired === 2;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );

    const planned = await wheelhouse(alice, "plan", INTENT);
    assert.equal(planned.exitCode, 0, planned.stderr);
    const planId = /^plan (\S+) requested/.exec(planned.stdout)?.[1];
    assert.ok(planId, planned.stdout);

    // Policy decides: a T1 write in staging waits for an approver (stage 1).
    const decided = await waitFor(
      "policy to decide the plan",
      async () => {
        const status = await wheelhouse(alice, "status", planId);
        return /pending_approval/.test(status.stdout) ? status.stdout : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    assert.match(decided, /require_approval T1/);
    assert.match(decided, /- s1 kubectl\.get/);
    assert.match(decided, /- s2 kubectl\.scale/);

    const self = await wheelhouse(alice, "approve", planId);
    assert.notEqual(self.exitCode, 0, "alice must not approve her own plan");
    assert.match(self.stderr, new RegExp(`wheelhouse: 403 alice requested plan ${planId} and may not approve it`));

    const approved = await wheelhouse(bob, "approve", planId);
    assert.equal(approved.exitCode, 0, approved.stderr);
    await waitFor(
      "the plan to be approved",
      async () => /approved/.test((await wheelhouse(alice, "status", planId)).stdout),
      {
        timeoutMs: 15_000,
        intervalMs: 250,
      },
    );

    const executed = await wheelhouse(alice, "execute", planId);
    assert.equal(executed.exitCode, 0, executed.stderr);
    const executionId = /^execution (\S+) requested/.exec(executed.stdout)?.[1];
    assert.ok(executionId, executed.stdout);
    const finished = await waitFor(
      "the execution to finish",
      async () => {
        const status = await wheelhouse(alice, "status", planId);
        return /execution \S+\s+(succeeded|failed|rolled_back|verification_failed|cancelled)/.exec(status.stdout)?.[1];
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    assert.equal(finished, "succeeded", (await wheelhouse(alice, "explain", planId)).stdout);

    // What kubectl sees: 6 replicas, all ready.
    const deployment = await waitFor(
      "checkout to run 6 ready replicas",
      async () => {
        const d = await checkout();
        return d?.spec.replicas === 6 && d.status.readyReplicas === 6 ? d : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    assert.equal(deployment.spec.replicas, 6);
    const table = await execa("kubectl", ["get", "deploy", "checkout", "-n", NAMESPACE], { env: system.env });
    assert.match(table.stdout, /^checkout\s+6\/6\s+6\s+6\s/m);

    const explained = await wheelhouse(alice, "explain", planId, "--verify-evidence");
    assert.equal(explained.exitCode, 0, explained.stderr);
    const story = explained.stdout;
    // The context snapshot the plan was made from: the staging services (checkout, cart, payments) and their edges.
    assert.match(
      story,
      /context snapshot [0-9a-f]{12}: \d+ services, \d+ edges of environment staging read at context_nodes@\S+ evidence \S+ \(sha256 = digest\)/,
    );
    // The real argv, with its output, and the verification.
    assert.match(
      story,
      /\$ kubectl scale deployment\/checkout --replicas=6 --current-replicas=2 --namespace=shop-staging +→ succeeded exit 0 output \S+ verified/,
    );
    assert.match(story, /\| deployment\.apps\/checkout scaled/);
    // The verification reads the Deployment again (after s1's read) and compares its ready replicas with the step's 6.
    const reads = story.match(
      /\$ kubectl get deployment checkout --output=json --namespace=shop-staging +→ succeeded exit 0/g,
    );
    assert.equal(reads?.length, 2, "s1's read and the verification's read");
    assert.ok(
      story.indexOf("kubectl scale deployment/checkout") < story.lastIndexOf("kubectl get deployment checkout"),
      "the verification read comes after the scale",
    );
    assert.match(story, /verification: passed ✓ checkout reports 6 ready replicas/);
    assert.match(story, new RegExp(`execution ${executionId}: succeeded`));
    assert.match(story, /approval r1: granted by bob/);
    // The plan was made from the live facts: replicas, image, the HPA's bounds, what checkout depends on.
    const json = await wheelhouse(alice, "explain", planId, "--json");
    const [revision] = (JSON.parse(json.stdout) as { revisions: { steps: { rationale: string }[] }[] }).revisions;
    assert.match(
      revision?.steps[0]?.rationale ?? "",
      /now: 2 replicas \(\d ready\); image ghcr\.io\/wheelhouse-demo\/checkout:[\w.]+; HorizontalPodAutoscaler checkout bounds 2-12; depends on cart, payments/,
    );
  });
});
