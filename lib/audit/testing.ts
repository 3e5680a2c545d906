/**
 * Test support for lib/audit and lib/evidence: a Postgres schema of the
 * test's own with the migrations applied, dropped afterwards.
 */
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";

const MIGRATIONS = join(import.meta.dirname, "..", "..", "migrations");

export interface TestSchema {
  readonly name: string;
  readonly url: string;
  /** A pool whose connections use this schema. */
  readonly pool: pg.Pool;
  /** Another isolated schema (own pool), dropped with this one. */
  subSchema(suffix: string): Promise<pg.Pool>;
  drop(): Promise<void>;
}

export async function createTestSchema(label: string, url = process.env.WH_PG_URL): Promise<TestSchema> {
  const connectionString = url ?? "postgres://postgres@127.0.0.1:5432/wheelhouse";
  const admin = new pg.Pool({ connectionString, max: 2 });
  const created: { name: string; pool: pg.Pool }[] = [];
  async function make(name: string): Promise<pg.Pool> {
    await admin.query(`CREATE SCHEMA ${name}`);
    const pool = new pg.Pool({ connectionString, max: 4, options: `-c search_path=${name}` });
    created.push({ name, pool });
    for (const file of readdirSync(MIGRATIONS)
      .filter((f) => f.endsWith(".sql"))
      .sort()) {
      await pool.query(readFileSync(join(MIGRATIONS, file), "utf8"));
    }
    return pool;
  }
  const name = `t_${label}_${randomBytes(4).toString("hex")}`;
  const pool = await make(name);
  return {
    name,
    url: connectionString,
    pool,
    subSchema: (suffix) => make(`${name}_${suffix}`),
    async drop() {
      for (const c of created) {
        await c.pool.end();
        await admin.query(`DROP SCHEMA IF EXISTS ${c.name} CASCADE`);
      }
      await admin.end();
    },
  };
}
