/** Postgres for a test: a schema of its own with the migrations applied, dropped afterwards. */
import pg from "pg";
import { migrate } from "../../lib/db/migrate.ts";
import { testEnv } from "./env.ts";
import { uniqueName } from "./names.ts";

/** A node-postgres pool on the test database whose connections use `schema`. */
export function schemaPool(schema: string, max = 2): pg.Pool {
  return new pg.Pool({ connectionString: testEnv.pgUrl, options: `-c search_path=${schema}`, max });
}

/** Drops each of `schemas` with everything in it; a schema that does not exist is fine. */
export async function dropSchemas(...schemas: string[]): Promise<void> {
  const admin = new pg.Client({ connectionString: testEnv.pgUrl });
  await admin.connect();
  try {
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await admin.end();
  }
}

/**
 * Every row of `tables` in `schema`, as JSON text, each table's rows in one fixed order: what two
 * projections of the same stream must agree on.
 */
export async function readModelRows(schema: string, tables: readonly string[]): Promise<Record<string, string[]>> {
  const c = new pg.Client({ connectionString: testEnv.pgUrl });
  await c.connect();
  try {
    const out: Record<string, string[]> = {};
    for (const table of tables) {
      const r = await c.query(`SELECT to_jsonb(t)::text AS row FROM "${schema}"."${table}" t ORDER BY 1`);
      out[table] = r.rows.map((x) => x.row as string);
    }
    return out;
  } finally {
    await c.end();
  }
}

export interface TestSchema {
  readonly name: string;
  /** The test database's URL (without a schema). */
  readonly url: string;
  /** A pool whose connections use this schema. */
  readonly pool: pg.Pool;
  /** Another migrated schema, `<name>_<suffix>`, with its own pool; dropped with this one. */
  subSchema(suffix: string): Promise<pg.Pool>;
  /** Closes the pools and drops every schema this made. */
  drop(): Promise<void>;
}

/** A fresh schema `t_<label>_<random>` with the migrations applied (through the real migrator). */
export async function createTestSchema(label: string): Promise<TestSchema> {
  const created: { name: string; pool: pg.Pool }[] = [];
  async function make(name: string): Promise<pg.Pool> {
    await migrate({ url: testEnv.pgUrl, schema: name });
    const pool = schemaPool(name, 4);
    created.push({ name, pool });
    return pool;
  }
  const name = uniqueName(`t_${label}`);
  const pool = await make(name);
  return {
    name,
    url: testEnv.pgUrl,
    pool,
    subSchema: (suffix) => make(`${name}_${suffix}`),
    async drop() {
      for (const c of created) await c.pool.end();
      await dropSchemas(...created.map((c) => c.name));
    },
  };
}
