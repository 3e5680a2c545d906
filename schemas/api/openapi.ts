/**
 * Builds the OpenAPI 3.1 document from the same valibot schemas that
 * validate requests, so the document cannot drift from what is enforced.
 */
import { toJsonSchema } from "@valibot/to-json-schema";
import type * as v from "valibot";
import { ProblemSchema } from "./common.ts";

/** What the document needs to know about one endpoint. */
export interface OperationSpec {
  readonly method: "GET" | "POST";
  /** OpenAPI path template: `/v1/plans/{id}`. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly tags: readonly string[];
  /** Role needed, `webhook` (provider credentials) or `public`. */
  readonly access: string;
  readonly params?: v.GenericSchema | undefined;
  readonly query?: v.GenericSchema | undefined;
  /** Request headers the operation reads, keyed by lower-case name. */
  readonly headers?: v.GenericSchema | undefined;
  readonly body?: v.GenericSchema | undefined;
  readonly responses: Readonly<Record<number, { description: string; schema?: v.GenericSchema; contentType?: string }>>;
  /** Longer prose for the document (cost, streaming, protocol). */
  readonly description?: string | undefined;
  /** Parameters the schemas cannot express (headers of an upgrade, ...), as OpenAPI Parameter Objects. */
  readonly extraParameters?: readonly Record<string, unknown>[] | undefined;
  /** Security requirements other than the default bearer token. */
  readonly security?: readonly Record<string, string[]>[] | undefined;
  /** `x-` extensions copied onto the operation. */
  readonly extensions?: Readonly<Record<`x-${string}`, unknown>> | undefined;
}

type Json = Record<string, unknown>;

function jsonSchema(schema: v.GenericSchema, typeMode: "input" | "output"): Json {
  const out = toJsonSchema(schema, { target: "draft-2020-12", typeMode, errorMode: "ignore" }) as Json;
  delete out.$schema;
  return out;
}

/** `idempotency-key` → `Idempotency-Key`: how the documents and clients spell a header. */
export function headerName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

function parameters(schema: v.GenericSchema | undefined, where: "path" | "query" | "header"): Json[] {
  if (!schema) return [];
  const js = jsonSchema(schema, "input");
  const props = (js.properties ?? {}) as Record<string, Json>;
  const required = new Set((js.required ?? []) as string[]);
  return Object.entries(props).map(([name, s]) => ({
    name: where === "header" ? headerName(name) : name,
    in: where,
    required: where === "path" || required.has(name),
    schema: s,
  }));
}

export function buildOpenApi(
  operations: readonly OperationSpec[],
  info: {
    version: string;
    serverUrl?: string;
    /** Named schemas for `components.schemas` (message shapes that no operation body carries). */
    components?: Readonly<Record<string, v.GenericSchema>>;
  },
): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const op of operations) {
    const responses: Record<string, Json> = {};
    for (const [status, r] of Object.entries(op.responses)) {
      responses[status] = {
        description: r.description,
        ...(r.schema
          ? { content: { [r.contentType ?? "application/json"]: { schema: jsonSchema(r.schema, "output") } } }
          : {}),
      };
    }
    responses.default = {
      description: "RFC 9457 problem details naming the field at fault and the fix",
      content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
    };
    const operation: Json = {
      operationId: op.operationId,
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      tags: op.tags,
      "x-wheelhouse-access": op.access,
      parameters: [
        ...parameters(op.params, "path"),
        ...parameters(op.query, "query"),
        ...parameters(op.headers, "header"),
        ...(op.extraParameters ?? []),
      ],
      responses,
      ...(op.access === "public" || op.access === "webhook" ? { security: [] } : {}),
      ...(op.security ? { security: op.security } : {}),
      ...op.extensions,
    };
    if (op.body) {
      operation.requestBody = {
        required: true,
        content: { "application/json": { schema: jsonSchema(op.body, "input") } },
      };
    }
    paths[op.path] ??= {};
    (paths[op.path] as Record<string, Json>)[op.method.toLowerCase()] = operation;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Wheelhouse API",
      version: info.version,
      description: "Infrastructure-change control plane: plans, approvals, executions, audit, webhooks.",
    },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
        // Browsers cannot set Authorization on a WebSocket handshake; /v1/ws also takes the token here.
        accessTokenQuery: {
          type: "apiKey",
          in: "query",
          name: "access_token",
          description: "The bearer JWT as a query parameter (WebSocket handshake only)",
        },
      },
      schemas: {
        Problem: jsonSchema(ProblemSchema, "output"),
        ...Object.fromEntries(
          Object.entries(info.components ?? {}).map(([name, schema]) => [name, jsonSchema(schema, "output")]),
        ),
      },
    },
    paths,
  };
}
