/**
 * The context service's RPC contract (HTTP+JSON on `context.host:context.port`):
 *
 *   POST /rpc/RefreshContext   RefreshContextRequest   → { source, recorded, health }
 *   POST /rpc/GetServiceGraph  GetServiceGraphRequest  → { services: ServiceDetail[] }
 *   GET  /readyz                                       → the context health (200 unless idle or starting)
 */
import * as v from "valibot";

export const RefreshContextRequestSchema = v.strictObject({
  /** The source to read now; every source when absent. */
  source: v.optional(v.picklist(["all", "kubernetes", "helm", "argocd", "aws", "grafana"])),
});
export type RefreshContextRequest = v.InferOutput<typeof RefreshContextRequestSchema>;

export const GetServiceGraphRequestSchema = v.strictObject({
  name: v.pipe(v.string(), v.minLength(1), v.maxLength(253)),
  environment: v.optional(v.string()),
});
export type GetServiceGraphRequest = v.InferOutput<typeof GetServiceGraphRequestSchema>;
