/**
 * A fake node whose pods have logs. The stack's kwok runs its node without a kubelet endpoint, so
 * `kubectl logs` against its pods fails (the API server dials a port nobody serves). This starts a
 * kwok of the test's own for one node of its own: it serves the kubelet's log endpoint over TLS on
 * 127.0.0.1 (self-signed: the API server does not verify kubelet certificates here) and answers
 * every pod's logs, in a namespace the test names, from one CRI-format file.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { kubectl, testCluster, uniqueKubeName } from "./cluster.ts";
import { freePort } from "./net.ts";

export interface LogServingNode {
  /** The node's name; pin pods to it with `kubernetes.io/hostname`. */
  readonly name: string;
  /** The lines every pod on the node logs (stdout), oldest first. */
  readonly lines: readonly string[];
  /** Deletes the node and stops this kwok. */
  stop(): Promise<void>;
}

/** Starts the node; `namespace` is where the pods whose logs it serves live; `dir` a temp dir of the test's. */
export async function startLogServingNode(dir: string, namespace: string): Promise<LogServingNode> {
  const name = uniqueKubeName("wh-logs-node");
  const port = await freePort();
  const cert = join(dir, "kwok-tls.crt");
  const key = join(dir, "kwok-tls.key");
  await execa("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1",
    "-keyout",
    key,
    "-out",
    cert,
  ]);
  const lines = [1, 2, 3].map((n) => `request served status=200 n=${n}`);
  const logFile = join(dir, "pod.log");
  await writeFile(logFile, lines.map((l, i) => `2026-01-01T00:00:0${i + 1}.000000000Z stdout F ${l}\n`).join(""));
  const config = join(dir, "kwok.yaml");
  await writeFile(
    config,
    JSON.stringify({
      apiVersion: "kwok.x-k8s.io/v1alpha1",
      kind: "ClusterLogs",
      metadata: { name },
      spec: {
        selector: { matchNamespaces: [namespace] },
        logs: [{ containers: [], logsFile: logFile, follow: false }],
      },
    }),
  );
  const kwok: ResultPromise = execa(
    join(testCluster.bin, "kwok"),
    [
      `--kubeconfig=${testCluster.kubeconfig}`,
      `--config=${config}`,
      `--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=${name}`,
      "--cidr=10.245.0.1/16",
      "--node-ip=127.0.0.1",
      `--node-port=${port}`,
      `--server-address=127.0.0.1:${port}`,
      `--tls-cert-file=${cert}`,
      `--tls-private-key-file=${key}`,
      "--node-lease-duration-seconds=40",
    ],
    { reject: false, stdio: "ignore" },
  );
  const stop = async () => {
    await kubectl(["delete", "node", name, "--wait=false", "--ignore-not-found=true"], { reject: false });
    kwok.kill("SIGTERM");
    await kwok;
  };
  try {
    const node = {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name,
        annotations: { "kwok.x-k8s.io/node": name },
        labels: { "kubernetes.io/hostname": name, type: "kwok", "wheelhouse.dev/test": "true" },
      },
      status: {
        allocatable: { cpu: "8", memory: "16Gi", pods: "110" },
        capacity: { cpu: "8", memory: "16Gi", pods: "110" },
      },
    };
    await kubectl(["create", "--filename=-"], { input: JSON.stringify(node) });
    await kubectl(["wait", `node/${name}`, "--for=condition=Ready", "--timeout=30s"]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { name, lines, stop };
}
