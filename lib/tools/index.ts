/**
 * Tools: the catalog of CLI actions Wheelhouse may run, the argv builders that
 * turn a validated input into exactly one command, and the sandbox that runs it.
 */
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
