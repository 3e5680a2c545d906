/**
 * AWS resources through the Resource Groups Tagging API (`GetResources`, every page), with the AWS
 * SDK v3 client. `endpoint` points it elsewhere than AWS (a local server speaking the same wire
 * format in tests). Credentials are given explicitly: the SDK's default chain would go looking on
 * the network (instance metadata) for them.
 */
import {
  GetResourcesCommand,
  type GetResourcesCommandInput,
  ResourceGroupsTaggingAPIClient,
} from "@aws-sdk/client-resource-groups-tagging-api";
import type { CloudResourceFact } from "../facts.ts";
import { cloudResourceFact } from "./cloud.ts";

export interface AwsSourceOptions {
  readonly region: string;
  readonly endpoint?: string | undefined;
  readonly credentials: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  /** `service[:resourceType]` filters, e.g. `rds:db`; all types when empty. */
  readonly resourceTypes?: readonly string[];
  /** Only resources with these tag keys (any value). */
  readonly tagKeys?: readonly string[];
}

export interface AwsResources {
  readonly resources: CloudResourceFact[];
  /** ARNs that are not ARNs, left out. */
  readonly skipped: string[];
}

export function awsResourcesPoll(opts: AwsSourceOptions): {
  poll: (signal: AbortSignal) => Promise<AwsResources>;
  close: () => void;
} {
  const client = new ResourceGroupsTaggingAPIClient({
    region: opts.region,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    credentials: { ...opts.credentials },
    // The poller retries on its own schedule; one attempt per poll keeps its timeout meaningful.
    maxAttempts: 1,
  });
  return {
    async poll(signal) {
      const resources: CloudResourceFact[] = [];
      const skipped: string[] = [];
      let token: string | undefined;
      do {
        const input: GetResourcesCommandInput = {
          ResourcesPerPage: 100,
          ...(token ? { PaginationToken: token } : {}),
          ...(opts.resourceTypes?.length ? { ResourceTypeFilters: [...opts.resourceTypes] } : {}),
          ...(opts.tagKeys?.length ? { TagFilters: opts.tagKeys.map((Key) => ({ Key })) } : {}),
        };
        const page = await client.send(new GetResourcesCommand(input), { abortSignal: signal });
        for (const m of page.ResourceTagMappingList ?? []) {
          const fact = m.ResourceARN ? cloudResourceFact(m.ResourceARN, m.Tags ?? []) : null;
          if (fact) resources.push(fact);
          else skipped.push(m.ResourceARN ?? "(no ARN)");
        }
        token = page.PaginationToken || undefined;
      } while (token);
      resources.sort((a, b) => a.arn.localeCompare(b.arn));
      return { resources, skipped };
    },
    close: () => client.destroy(),
  };
}
