/**
 * Seeds a small demo service graph (a shop: checkout, cart, payments in staging and production)
 * as `context.*` events, so the quick start can plan and decide against something before a
 * context poller is connected to a real cluster. The nodes say `demo: true`; running it again
 * appends nothing new.
 *
 *   npm run -s seed-demo
 */
import { type AnyEvent, newEvent } from "../events/index.ts";
import { loadConfig } from "../lib/config/index.ts";
import { openRuntime } from "../lib/runtime/index.ts";

interface DemoService {
  readonly name: string;
  readonly environment: "staging" | "production";
  readonly replicas: number;
  readonly dependsOn?: readonly string[];
}

const services: readonly DemoService[] = [
  { name: "checkout", environment: "staging", replicas: 2, dependsOn: ["cart", "payments"] },
  { name: "cart", environment: "staging", replicas: 2 },
  { name: "payments", environment: "staging", replicas: 2 },
  { name: "checkout", environment: "production", replicas: 6, dependsOn: ["cart", "payments"] },
  { name: "cart", environment: "production", replicas: 4 },
  { name: "payments", environment: "production", replicas: 4 },
];

const nodeId = (name: string, environment: string) => `svc-${name}-${environment}`;
const config = loadConfig();
const runtime = await openRuntime(config, "seed-demo");
const meta = { actor: { kind: "system" as const, id: "seed-demo", roles: [] }, correlation_id: "seed-demo" };
try {
  let appended = 0;
  for (const s of services) {
    const id = nodeId(s.name, s.environment);
    const namespace = `shop-${s.environment}`;
    const events: AnyEvent[] = [
      newEvent(
        "context.node_upserted",
        id,
        {
          node_id: id,
          kind: "service",
          name: s.name,
          environment: s.environment,
          attributes: {
            demo: true,
            namespace,
            kind: "deployment",
            workload: s.name,
            replicas: s.replicas,
            helm: { release: s.name, chart: `charts/${s.name}` },
            argocd: { app: `${s.name}-${s.environment}` },
          },
        },
        meta,
      ),
      ...(s.dependsOn ?? []).map((to) =>
        newEvent(
          "context.edge_upserted",
          id,
          { from_node: id, to_node: nodeId(to, s.environment), kind: "depends_on" },
          meta,
        ),
      ),
    ];
    const result = await runtime.store.append(events, { idempotencyKey: `seed-demo:v1:${id}` });
    if (!result.duplicate) appended += events.length;
  }
  process.stdout.write(
    appended > 0
      ? `seeded the demo shop: ${services.length} services in staging and production (${appended} events)\n`
      : "the demo shop is already seeded\n",
  );
} finally {
  await runtime.close();
}
