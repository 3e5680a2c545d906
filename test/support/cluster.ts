/**
 * The local Kubernetes cluster `scripts/infra up` runs (kube-apiserver on 127.0.0.1, kwok's fake
 * node), the kubectl and helm built with it, and per-test slices of it: a namespace, a Deployment,
 * a fake node of the test's own, each removed by its teardown. Tests talk to the cluster only
 * through the API server on 127.0.0.1; the shop-* namespaces and kwok-node-0 are never touched.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { execa } from "execa";

const ROOT = join(import.meta.dirname, "..", "..");
const BIN = join(ROOT, ".tools", "bin");

export const testCluster = {
  /** The admin kubeconfig of the local cluster (scripts/env.sh: WH_KUBECONFIG). */
  kubeconfig: process.env.WH_KUBECONFIG ?? join(ROOT, ".data", "kube", "config"),
  /** The folder with the kubectl and helm built for the cluster (not the machine's /usr/bin/kubectl). */
  bin: BIN,
  kubectl: join(BIN, "kubectl"),
  helm: join(BIN, "helm"),
} as const;

/** A PATH for a sandbox: `extra` folders first, then the cluster's kubectl and helm, Node, and the system. */
export function clusterToolPath(...extra: string[]): string {
  return [...extra, testCluster.bin, dirname(process.execPath), "/usr/bin", "/bin"].join(":");
}

/** A DNS-1123 name of the test's own: `base` and a short random token. */
export function uniqueKubeName(base: string): string {
  return `${base}-${randomBytes(4).toString("hex")}`;
}

/** Runs the real kubectl against the local cluster; fails with its stderr unless `reject` is false. */
export async function kubectl(
  args: readonly string[],
  options: { input?: string; reject?: boolean } = {},
): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const r = await execa(testCluster.kubectl, [`--kubeconfig=${testCluster.kubeconfig}`, ...args], {
    reject: false,
    ...(options.input === undefined ? {} : { input: options.input }),
  });
  if (options.reject !== false && r.exitCode !== 0) {
    throw new Error(`kubectl ${args.join(" ")} exited ${r.exitCode}: ${r.stderr}`);
  }
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? -1 };
}

/** `kubectl get <args> -o json`, parsed; null when the object does not exist. */
export async function kubeGet<T = KubeObjectJson>(...args: string[]): Promise<T | null> {
  const r = await kubectl(["get", ...args, "--output=json", "--ignore-not-found=true"]);
  return r.stdout.trim() === "" ? null : (JSON.parse(r.stdout) as T);
}

/** The fields of a Kubernetes object the tests read. */
export interface KubeObjectJson {
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly deletionTimestamp?: string;
    readonly generation?: number;
    readonly resourceVersion?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
  // biome-ignore lint/suspicious/noExplicitAny: spec and status differ per kind; tests read them field by field
  readonly spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  readonly status?: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  readonly data?: any;
}

export interface TestNamespace {
  readonly name: string;
  /** Deletes the namespace and everything in it (not waiting for the deletion to finish). */
  teardown(): Promise<void>;
}

/** A namespace of the test's own, labelled `wheelhouse.dev/test=true`. */
export async function createTestNamespace(base: string): Promise<TestNamespace> {
  const name = uniqueKubeName(base);
  await kubectl(["create", "namespace", name]);
  await kubectl(["label", "namespace", name, "wheelhouse.dev/test=true"]);
  return {
    name,
    async teardown() {
      await kubectl(["delete", "namespace", name, "--wait=false", "--ignore-not-found=true"], { reject: false });
    },
  };
}

export interface TestDeploymentOptions {
  readonly replicas?: number;
  readonly image?: string;
  /** Pins the pods to one node (`kubernetes.io/hostname`). */
  readonly node?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** The manifest of a Deployment as the tests create it (kwok runs its pods; nothing pulls the image). */
export function deploymentManifest(namespace: string, name: string, options: TestDeploymentOptions = {}) {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace, labels: { "app.kubernetes.io/name": name, ...options.labels } },
    spec: {
      replicas: options.replicas ?? 2,
      selector: { matchLabels: { "app.kubernetes.io/name": name } },
      template: {
        metadata: { labels: { "app.kubernetes.io/name": name } },
        spec: {
          ...(options.node ? { nodeSelector: { "kubernetes.io/hostname": options.node } } : {}),
          containers: [{ name: "app", image: options.image ?? `registry.example.com/${name}:1.4.0` }],
        },
      },
    },
  };
}

/** Creates a Deployment and waits until its rollout is complete (every replica ready). */
export async function createTestDeployment(
  namespace: string,
  name: string,
  options: TestDeploymentOptions = {},
): Promise<void> {
  await kubectl(["create", "--filename=-"], { input: JSON.stringify(deploymentManifest(namespace, name, options)) });
  await kubectl(["rollout", "status", `deployment/${name}`, `--namespace=${namespace}`, "--timeout=60s"]);
}

export interface TestNode {
  readonly name: string;
  /** Deletes the node (its pods are then garbage-collected by the cluster). */
  teardown(): Promise<void>;
}

/**
 * A fake node of the test's own, run by the stack's kwok (annotation `kwok.x-k8s.io/node=fake`),
 * ready and schedulable once this returns. For drains and cordons: never kwok-node-0.
 */
export async function createTestNode(base: string): Promise<TestNode> {
  const name = uniqueKubeName(base);
  const node = {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
      labels: {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        type: "kwok",
        "wheelhouse.dev/test": "true",
      },
    },
    status: {
      allocatable: { cpu: "8", memory: "16Gi", pods: "110" },
      capacity: { cpu: "8", memory: "16Gi", pods: "110" },
    },
  };
  await kubectl(["create", "--filename=-"], { input: JSON.stringify(node) });
  await kubectl(["wait", `node/${name}`, "--for=condition=Ready", "--timeout=30s"]);
  return {
    name,
    async teardown() {
      await kubectl(["delete", "node", name, "--wait=false", "--ignore-not-found=true"], { reject: false });
    },
  };
}

/**
 * Wrappers around the real kubectl and helm that append each invocation's argv to `argvLog`
 * (read it with `recordedArgv`) and then exec the real binary: put the returned folder first on a
 * sandbox's PATH to see exactly what ran, and in what order.
 */
export async function recordingBin(dir: string, argvLog: string): Promise<string> {
  const bin = join(dir, "recording-bin");
  await mkdir(bin, { recursive: true });
  for (const [name, real] of [
    ["kubectl", testCluster.kubectl],
    ["helm", testCluster.helm],
  ] as const) {
    const file = join(bin, name);
    await writeFile(
      file,
      [
        "#!/usr/bin/env bash",
        `{ printf '%s\\0' ${name} "$@"; printf '\\n'; } >>${JSON.stringify(argvLog)}`,
        `exec ${JSON.stringify(real)} "$@"`,
        "",
      ].join("\n"),
    );
    await chmod(file, 0o755);
  }
  return bin;
}
