/**
 * Tools: the catalog of CLI actions Wheelhouse may run, the argv builders that
 * turn a validated input into exactly one command, the sandbox that runs it,
 * artifact resolution with checksum verification (and the checks on a
 * manifest to apply), the artifact store the router writes rollback state to,
 * and the signed capability that authorises one call.
 */
export {
  type ArtifactStore,
  type ArtifactStoreDeps,
  createArtifactStore,
  type ObjectStoreArtifactRef,
  type ObjectStoreWriter,
  objectStoreClient,
} from "./artifact-store.ts";
export {
  ArtifactIntegrityError,
  type ArtifactRef,
  type ArtifactResolver,
  type ArtifactResolverDeps,
  createArtifactResolver,
  type ObjectStoreReader,
  type ResolvedArtifact,
} from "./artifacts.ts";
export {
  type BuildOptions,
  buildArgoCmd,
  buildAwsCmd,
  buildBoundaryCmd,
  buildCommand,
  buildGhCmd,
  buildHelmCmd,
  buildKubectlCmd,
  buildVaultCmd,
  GH_PR_VIEW_FIELDS,
  KUBECTL_FIELD_MANAGER,
  successExitCodes,
  type ToolInput,
  validateToolInput,
} from "./builders.ts";
export {
  CAPABILITY_HEADER,
  type CapabilityCall,
  type CapabilityClaims,
  type CapabilityGrant,
  type CapabilityMinter,
  type CapabilityPurpose,
  type CapabilityVerifier,
  type CapabilityVerifierDeps,
  createCapabilityMinter,
  createCapabilityVerifier,
  embeddedCapabilityKeys,
  generateCapabilityKeys,
  loadSigningKey,
  loadVerifyKey,
  requireSigningKey,
  requireVerifyKey,
  toolInputSha256,
} from "./capability.ts";
export {
  type ActionKind,
  type Catalog,
  type CatalogAction,
  DEFAULT_CATALOG_DIR,
  type FieldIssue,
  type InputValidation,
  type JsonSchema,
  loadCatalog,
  type RiskTier,
  toIssues,
} from "./catalog.ts";
export {
  createToolExecutor,
  type ToolCallOutcome,
  type ToolCallSpec,
  type ToolExecutor,
  type ToolExecutorDeps,
} from "./execute.ts";
export { APPLY_KINDS, checkManifest, type ManifestObject, restoringManifest } from "./manifest.ts";
export {
  createSandbox,
  findExecutable,
  type OutputLine,
  type OutputStream,
  type Sandbox,
  type SandboxCall,
  type SandboxDeps,
  type SandboxResult,
  type StreamSummary,
  type WorkDirContext,
} from "./sandbox.ts";
export {
  type ObjectStoreRef,
  parseSandboxCliRecord,
  parseSandboxCliRecordName,
  parseSandboxExecMessage,
  parseSandboxExecRequest,
  parseSandboxHostCommand,
  parseSandboxHostMessage,
  type SandboxCliRecord,
  type SandboxExecMessage,
  type SandboxExecRequest,
  type SandboxHostCommand,
  type SandboxHostMessage,
  sandboxCliRecordName,
  sandboxExecError,
} from "./sandbox-protocol.ts";
