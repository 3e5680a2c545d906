/** The committed API types are what openapi-typescript makes of the gateway's current OpenAPI document. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { generateApiTypes, SCHEMA_FILE } from "./codegen/generate.ts";

test("console/src/api/schema.d.ts is generated from the current route table (fix: npm run generate:api)", async () => {
  const generated = await generateApiTypes();
  assert.ok(generated.includes('"/v1/plans/{id}"'), "the generated types name the plan endpoint");
  assert.equal(readFileSync(SCHEMA_FILE, "utf8"), generated, "stale: run npm run generate:api and commit the file");
});
