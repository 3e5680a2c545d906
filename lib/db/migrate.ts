/**
 * Migration runner: `migrations/NNNN_name.sql`, applied in order, each in its
 * own transaction, recorded in `<schema>.schema_migrations` with a checksum.
 * A session-level `pg_advisory_lock` per schema serialises concurrent runners
 * (several services starting at once): the first applies, the others wait and
 * then find nothing left to do.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { ConfigError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";

export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations/", import.meta.url));

export interface Migration {
  readonly version: string;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export interface MigrateOptions {
  readonly url: string;
  readonly schema: string;
  readonly dir?: string | undefined;
  readonly logger?: Logger | undefined;
}

export interface MigrateResult {
  readonly applied: string[];
  readonly skipped: string[];
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export async function loadMigrations(dir = DEFAULT_MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort();
  const out: Migration[] = [];
  for (const f of files) {
    const m = FILE.exec(f);
    if (!m) {
      throw new ConfigError(`migration file ${f} is misnamed`, [
        {
          field: `migrations/${f}`,
          message: "name must be NNNN_lower_snake.sql",
          fix: "rename it, e.g. 0002_audit_chain.sql",
        },
      ]);
    }
    const sql = await readFile(`${dir}/${f}`, "utf8");
    out.push({
      version: m[1] as string,
      name: m[2] as string,
      sql,
      checksum: createHash("sha256").update(sql).digest("hex"),
    });
  }
  const versions = out.map((x) => x.version);
  const dup = versions.find((v, i) => versions.indexOf(v) !== i);
  if (dup) {
    throw new ConfigError(`two migrations share version ${dup}`, [
      { field: "migrations", message: `version ${dup} is used twice`, fix: "give one of them the next free number" },
    ]);
  }
  return out;
}

export function assertSchemaName(schema: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new ConfigError(`invalid Postgres schema name ${JSON.stringify(schema)}`, [
      {
        field: "storage.postgres_schema",
        message: "must be lower-case letters, digits and _",
        fix: "set WHEELHOUSE_STORAGE__POSTGRES_SCHEMA to e.g. public",
      },
    ]);
  }
}

/** Applies the pending migrations to `schema` (created if missing). Safe to run from several processes at once. */
export async function migrate(opts: MigrateOptions): Promise<MigrateResult> {
  assertSchemaName(opts.schema);
  const migrations = await loadMigrations(opts.dir);
  const client = new pg.Client({ connectionString: opts.url, application_name: "wheelhouse-migrate" });
  await client.connect();
  const schema = `"${opts.schema}"`;
  const applied: string[] = [];
  const skipped: string[] = [];
  try {
    await client.query("SELECT pg_advisory_lock(hashtext($1))", [`wheelhouse:migrate:${opts.schema}`]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (
           version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const done = new Map(
        (
          await client.query<{ version: string; checksum: string }>(
            `SELECT version, checksum FROM ${schema}.schema_migrations`,
          )
        ).rows.map((r) => [r.version, r.checksum]),
      );
      for (const m of migrations) {
        const have = done.get(m.version);
        if (have !== undefined) {
          if (have !== m.checksum) {
            throw new ConfigError(`migration ${m.version}_${m.name} changed after it was applied`, [
              {
                field: `migrations/${m.version}_${m.name}.sql`,
                message: "its checksum differs from the applied one",
                fix: "restore the applied file and put the change in a new migration",
              },
            ]);
          }
          skipped.push(m.version);
          continue;
        }
        await client.query("BEGIN");
        try {
          await client.query(`SET LOCAL search_path TO ${schema}`);
          await client.query(m.sql);
          await client.query(`INSERT INTO ${schema}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`, [
            m.version,
            m.name,
            m.checksum,
          ]);
          await client.query("COMMIT");
        } catch (e) {
          await client.query("ROLLBACK");
          throw new ConfigError(
            `migration ${m.version}_${m.name} failed: ${(e as Error).message}`,
            [
              {
                field: `migrations/${m.version}_${m.name}.sql`,
                message: (e as Error).message,
                fix: "fix the SQL and run again",
              },
            ],
            { cause: e },
          );
        }
        applied.push(m.version);
        opts.logger?.info({ schema: opts.schema, migration: `${m.version}_${m.name}` }, "migration applied");
      }
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtext($1))", [`wheelhouse:migrate:${opts.schema}`]);
    }
  } finally {
    await client.end();
  }
  return { applied, skipped };
}
