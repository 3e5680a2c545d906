/** Which cluster the context service watches, and its sources' settings, from the configuration. */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { type Config, requireSecret, resolveSecret } from "../../lib/config/index.ts";
import { ConfigError } from "../../lib/errors/index.ts";
import type { ContextServiceDeps } from "./service.ts";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The kubeconfig path: `context.kubeconfig`, else the local stack's `<data_dir>/kube/config` when it
 * exists, else the first file of `$KUBECONFIG`; null when there is none.
 */
export function kubeconfigPath(config: Config, env: Env): string | null {
  if (config.context.kubeconfig) return resolve(config.context.kubeconfig);
  const local = resolve(join(config.data_dir, "kube", "config"));
  if (existsSync(local)) return local;
  const fromEnv = env.KUBECONFIG?.split(":").find((p) => p !== "");
  return fromEnv ? resolve(fromEnv) : null;
}

/** Loads the kubeconfig; a missing or unreadable one stops the start with the field and the fix. */
export function loadKubeconfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (!existsSync(path)) throw new Error("no such file");
    kc.loadFromFile(path);
    if (!kc.getCurrentCluster()) throw new Error("it names no current cluster");
  } catch (cause) {
    throw new ConfigError(
      `cannot use the kubeconfig ${path}: ${(cause as Error).message}`,
      [
        {
          field: "context.kubeconfig",
          message: (cause as Error).message,
          fix: "point context.kubeconfig (or KUBECONFIG) at a kubeconfig with a current context, or start the local cluster with scripts/infra up",
        },
      ],
      { cause },
    );
  }
  return kc;
}

/** The AWS and Grafana sources, when configured. */
export function pollerSettings(config: Config, env: Env): Pick<ContextServiceDeps, "aws" | "grafana"> {
  const aws = config.context.aws;
  const grafana = config.connectors.grafana;
  return {
    aws: aws.enabled
      ? {
          region: aws.region,
          endpoint: aws.endpoint,
          credentials: {
            accessKeyId: requireSecret(aws.access_key_id, "context.aws.access_key_id", env),
            secretAccessKey: requireSecret(aws.secret_access_key, "context.aws.secret_access_key", env),
            ...(aws.session_token
              ? { sessionToken: requireSecret(aws.session_token, "context.aws.session_token", env) }
              : {}),
          },
          resourceTypes: aws.resource_types,
          tagKeys: aws.tag_keys,
          intervalMs: aws.poll_interval_ms,
          timeoutMs: aws.poll_timeout_ms,
        }
      : null,
    grafana: grafana.url
      ? {
          url: grafana.url,
          token: resolveSecret(grafana.token, env),
          intervalMs: config.context.grafana.poll_interval_ms,
          timeoutMs: config.context.grafana.poll_timeout_ms,
        }
      : null,
  };
}
