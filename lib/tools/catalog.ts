/**
 * The tool catalog: one JSON file per CLI under `schemas/tools/`, one JSON
 * Schema (2020-12) per action. It is the contract between the planner (which
 * may only propose catalog actions with valid inputs), policy (which reads
 * `kind`, `risk` and the `resource` mapping) and the tool router (which runs
 * them). Schemas are compiled once, at load.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type * as v from "valibot";
import type { TierSchema } from "../../events/index.ts";
import type { ActionKindSchema, CatalogActionSchema } from "../../schemas/tools/action.ts";
import { ConfigError, type FieldIssue } from "../errors/index.ts";

// ajv-formats is CommonJS; under NodeNext its default import is the plugin itself at run time.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export type { FieldIssue } from "../errors/index.ts";

export type RiskTier = v.InferOutput<typeof TierSchema>;
export type ActionKind = v.InferOutput<typeof ActionKindSchema>;

/** A JSON Schema object (2020-12). Kept loose on purpose: consumers hand it to ajv or an LLM. */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** One action of one CLI, e.g. `kubectl.scale` (its shape: schemas/tools/action.ts). */
export type CatalogAction = Readonly<v.InferOutput<typeof CatalogActionSchema>>;

export type InputValidation = { ok: true } | { ok: false; issues: FieldIssue[] };

export interface Catalog {
  /** The action, or null when the catalog has no such id. */
  get(actionId: string): CatalogAction | null;
  /** Every action, sorted by id. */
  actions(): CatalogAction[];
  /** Validates a step input against the action's schema. An unknown action id is an issue on `action_id`. */
  validateInput(actionId: string, input: unknown): InputValidation;
  /** Reads the target attributes of an input through the action's `resource` mapping. */
  resourceOf(actionId: string, input: Readonly<Record<string, unknown>>): Record<string, unknown> | null;
}

/** Default catalog folder: `schemas/tools` at the repository root. */
export const DEFAULT_CATALOG_DIR = fileURLToPath(new URL("../../schemas/tools/", import.meta.url));

const RISKS = new Set(["T0", "T1", "T2", "T3"]);

export interface LoadCatalogOptions {
  /**
   * `"on_first_use"` compiles an action's input schema when its input is first validated, not at
   * load: for a process that runs one action and exits (sandbox-exec), where compiling every schema
   * cost more than the call. A schema that does not compile then fails that validation instead of
   * the load; the services' own catalog (compiled at load) has proved the same files compile.
   */
  readonly compile?: "at_load" | "on_first_use" | undefined;
}

/**
 * Loads every `*.json` in `dir` and compiles its input schemas. Throws a
 * `ConfigError` naming the file and field when a catalog file is malformed,
 * a schema does not compile, or a rollback names an unknown action.
 */
export function loadCatalog(dir: string = DEFAULT_CATALOG_DIR, options: LoadCatalogOptions = {}): Catalog {
  const lazy = options.compile === "on_first_use";
  // Checking a schema against the 2020-12 meta-schema means compiling that first (most of a first
  // compile's time); a lazy catalog leaves it to the services' catalogs, which load the same files.
  const ajv = new Ajv2020({ allErrors: true, strict: true, useDefaults: false, validateSchema: !lazy });
  addFormats(ajv);
  const compile = (action: CatalogAction, where: string): ValidateFunction => {
    try {
      return ajv.compile(action.input);
    } catch (cause) {
      throw catalogError(where, `actions.${action.action}.input`, `does not compile: ${(cause as Error).message}`);
    }
  };
  const byId = new Map<string, { action: CatalogAction; validate: () => ValidateFunction }>();
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort();
  for (const file of files) {
    const where = join(dir, file);
    const doc = parseFile(where);
    for (const action of readActions(doc, where)) {
      let compiled = lazy ? null : compile(action, where);
      const validate = () => {
        compiled ??= compile(action, where);
        return compiled;
      };
      if (byId.has(action.id))
        throw catalogError(where, `actions.${action.action}`, `duplicate action id ${action.id}`);
      byId.set(action.id, { action, validate });
    }
  }
  for (const { action } of byId.values()) {
    if (action.rollback !== null && !byId.has(action.rollback)) {
      throw catalogError(
        join(dir, `${action.tool}.json`),
        `actions.${action.action}.rollback`,
        `names unknown action ${action.rollback}`,
      );
    }
  }
  // Sorted on first need: the first localeCompare sets up ICU's collator (~10 ms), a cost a
  // sandbox-exec process, which only looks its one action up, should not pay at every start.
  let sortedOnce: CatalogAction[] | undefined;
  const sorted = () => {
    sortedOnce ??= [...byId.values()].map((e) => e.action).sort((a, b) => a.id.localeCompare(b.id));
    return sortedOnce;
  };

  return {
    get: (actionId) => byId.get(actionId)?.action ?? null,
    actions: () => [...sorted()],
    validateInput(actionId, input) {
      const entry = byId.get(actionId);
      if (!entry) {
        return {
          ok: false,
          issues: [
            {
              field: "action_id",
              message: `unknown action "${actionId}"`,
              fix: `use one of the catalog's actions, e.g. ${sorted()
                .slice(0, 3)
                .map((a) => a.id)
                .join(", ")}`,
            },
          ],
        };
      }
      const validate = entry.validate();
      if (validate(input)) return { ok: true };
      return { ok: false, issues: toIssues(validate.errors ?? []) };
    },
    resourceOf(actionId, input) {
      const action = byId.get(actionId)?.action;
      if (!action) return null;
      const out: Record<string, unknown> = {};
      for (const [attribute, field] of Object.entries(action.resource)) {
        if (input[field] !== undefined) out[attribute] = input[field];
      }
      return out;
    },
  };
}

function parseFile(file: string): Record<string, unknown> {
  try {
    const doc = JSON.parse(readFileSync(file, "utf8")) as unknown;
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new Error("expected a JSON object");
    return doc as Record<string, unknown>;
  } catch (cause) {
    throw catalogError(file, "(root)", `is not a valid catalog file: ${(cause as Error).message}`);
  }
}

function readActions(doc: Record<string, unknown>, file: string): CatalogAction[] {
  const tool = doc.tool;
  const binary = doc.binary;
  if (typeof tool !== "string" || !/^[a-z][a-z0-9_]*$/.test(tool))
    throw catalogError(file, "tool", "must be a lower-case identifier");
  if (typeof binary !== "string" || binary.length === 0) throw catalogError(file, "binary", "must be a binary name");
  const actions = doc.actions;
  if (typeof actions !== "object" || actions === null) throw catalogError(file, "actions", "must be an object");
  const out: CatalogAction[] = [];
  for (const [name, raw] of Object.entries(actions as Record<string, unknown>)) {
    const at = `actions.${name}`;
    const a = raw as Record<string, unknown>;
    if (!/^[a-z][a-z0-9_]*$/.test(name)) throw catalogError(file, at, "action names are lower-case identifiers");
    if (typeof a.description !== "string") throw catalogError(file, `${at}.description`, "must be a string");
    if (a.kind !== "read" && a.kind !== "write") throw catalogError(file, `${at}.kind`, 'must be "read" or "write"');
    if (typeof a.reversible !== "boolean") throw catalogError(file, `${at}.reversible`, "must be a boolean");
    if (typeof a.risk !== "string" || !RISKS.has(a.risk)) throw catalogError(file, `${at}.risk`, "must be T0..T3");
    if (typeof a.dry_run !== "boolean") throw catalogError(file, `${at}.dry_run`, "must be a boolean");
    if (a.rollback !== null && typeof a.rollback !== "string")
      throw catalogError(file, `${at}.rollback`, "must be an action id or null");
    if (a.api_fallback !== undefined && typeof a.api_fallback !== "boolean")
      throw catalogError(file, `${at}.api_fallback`, "must be a boolean (or absent: false)");
    const resource = a.resource as Record<string, unknown> | undefined;
    if (typeof resource !== "object" || resource === null || Object.values(resource).some((v) => typeof v !== "string"))
      throw catalogError(file, `${at}.resource`, "must map attribute names to input field names");
    const input = a.input as Record<string, unknown> | undefined;
    if (typeof input !== "object" || input === null || input.type !== "object" || input.additionalProperties !== false)
      throw catalogError(file, `${at}.input`, "must be an object schema with additionalProperties: false");
    const properties = (input.properties ?? {}) as Record<string, unknown>;
    for (const [attribute, field] of Object.entries(resource as Record<string, string>)) {
      if (!(field in properties))
        throw catalogError(file, `${at}.resource.${attribute}`, `names input field "${field}", which does not exist`);
    }
    out.push(
      Object.freeze({
        id: `${tool}.${name}`,
        tool,
        action: name,
        binary,
        description: a.description,
        kind: a.kind,
        reversible: a.reversible,
        risk: a.risk as RiskTier,
        dry_run: a.dry_run,
        rollback: (a.rollback as string | null) ?? null,
        api_fallback: a.api_fallback === true,
        resource: Object.freeze({ ...(resource as Record<string, string>) }),
        input: input as JsonSchema,
      }),
    );
  }
  return out;
}

function catalogError(file: string, field: string, problem: string): ConfigError {
  return new ConfigError(`tool catalog ${file}: ${field} ${problem}`, [
    { field: `${file}#${field}`, message: problem, fix: "fix the catalog file; see schemas/tools/kubectl.json" },
  ]);
}

/** ajv errors → field issues with a dotted `input.<path>` and a fix a planner (or person) can act on. */
export function toIssues(errors: readonly ErrorObject[]): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    // oneOf reports every branch's failure; the branch errors above it are more useful.
    if (e.keyword === "oneOf" && errors.length > 1) continue;
    const path = e.instancePath
      .split("/")
      .slice(1)
      .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
    let field = ["input", ...path].join(".");
    let fix: string;
    const p = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case "additionalProperties":
        field = `${field}.${String(p.additionalProperty)}`;
        fix = "remove this field; the action does not accept it";
        break;
      case "required":
        field = `${field}.${String(p.missingProperty)}`;
        fix = "add this field";
        break;
      case "pattern":
        fix = `use a value matching ${String(p.pattern)}`;
        break;
      case "enum":
        fix = `use one of: ${(p.allowedValues as unknown[]).map(String).join(", ")}`;
        break;
      case "maxLength":
      case "minLength":
      case "maximum":
      case "minimum":
      case "maxItems":
      case "minItems":
      case "maxProperties":
      case "minProperties":
        fix = `keep it within the limit (${e.message ?? ""})`;
        break;
      case "type":
        fix = `send a ${String(p.type)}`;
        break;
      case "propertyNames":
        fix = `rename the key "${String(p.propertyName)}" to match the allowed pattern`;
        break;
      default:
        fix = "send a value the action's input schema accepts";
    }
    const key = `${field}|${e.keyword}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push({ field, message: e.message ?? e.keyword, fix });
  }
  return issues;
}
