/**
 * Policy: every plan step gets a risk tier and a decision (allow,
 * require_approval, deny) from the Rego in `policies/`, compiled to wasm and
 * evaluated in-process. Fails closed; reloads bundles without a restart.
 */
export { type BundleManifest, type PolicyBundle, parseBundle } from "./bundle.ts";
export { combineApprovals } from "./combine.ts";
export {
  buildPolicyInput,
  type PolicyApproval,
  type PolicyHpa,
  type PolicyInput,
  type PolicyInputContext,
  type RiskTier,
} from "./input.ts";
export {
  createPolicyService,
  type Decision,
  type PlanDecision,
  POLICY_ENTRYPOINT,
  type PolicyDecision,
  PolicyOutputSchema,
  type PolicyService,
  type PolicyServiceOptions,
  type ReloadResult,
  type Tier,
} from "./service.ts";
export {
  changeWindowIssues,
  changeWindowZones,
  isTimeZone,
  type TimeZoneOffsets,
  timeZoneOffsets,
  withTimeZones,
  type ZoneOffset,
} from "./windows.ts";
