import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { dropSchemas, testEnv, uniqueName } from "../../test/support/index.ts";
import { ConfigError } from "../errors/index.ts";
import { loadMigrations, migrate } from "./migrate.ts";

const PG_URL = testEnv.pgUrl;
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

async function q(text: string) {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return (await c.query(text)).rows;
  } finally {
    await c.end();
  }
}

function runCli(schema: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/migrate.ts"], {
      cwd: ROOT,
      env: { ...process.env, WHEELHOUSE_STORAGE__POSTGRES_URL: PG_URL, WHEELHOUSE_STORAGE__POSTGRES_SCHEMA: schema },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    child.on("exit", (code) => resolve({ code, out }));
  });
}

describe("migration runner (real Postgres)", () => {
  const id = uniqueName("t_mg");
  const schemas = [`${id}_a`, `${id}_b`, `${id}_c`];
  const dirs: string[] = [];
  after(async () => {
    await dropSchemas(...schemas);
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  test("several processes at once: each migration applied exactly once", async () => {
    const schema = schemas[0] as string;
    const results = await Promise.all([runCli(schema), runCli(schema), runCli(schema), runCli(schema)]);
    for (const r of results) assert.equal(r.code, 0, r.out);
    const all = await loadMigrations();
    const appliedBy = results.filter((r) => /applied 0001/.test(r.out));
    assert.equal(appliedBy.length, 1, results.map((r) => r.out).join("\n"));
    const rows = await q(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
    assert.deepEqual(
      rows.map((r) => r.version),
      all.map((m) => m.version),
    );
    const tables = await q(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = '${schema}' ORDER BY table_name`,
    );
    for (const t of [
      "plans",
      "plan_steps",
      "executions",
      "tool_calls",
      "evidence",
      "approvals",
      "audit_events",
      "context_nodes",
      "context_edges",
      "projection_checkpoints",
      "dead_letters",
    ]) {
      assert.ok(
        tables.some((r) => r.table_name === t),
        `missing table ${t}`,
      );
    }
  });

  test("in-process concurrency, a failing migration rolls back, a changed one is refused", async () => {
    const schema = schemas[1] as string;
    const dir = await mkdtemp(join(tmpdir(), "wh-mig-"));
    dirs.push(dir);
    await writeFile(join(dir, "0001_one.sql"), "CREATE TABLE one (id int PRIMARY KEY);");
    await writeFile(join(dir, "0002_two.sql"), "CREATE TABLE two (id int); INSERT INTO two VALUES (1);");
    const runs = await Promise.all(Array.from({ length: 6 }, () => migrate({ url: PG_URL, schema, dir })));
    assert.equal(runs.filter((r) => r.applied.length === 2).length, 1);
    assert.equal(runs.filter((r) => r.skipped.length === 2).length, 5);

    await writeFile(join(dir, "0003_bad.sql"), "CREATE TABLE three (id int); SELECT no_such_function();");
    await assert.rejects(migrate({ url: PG_URL, schema, dir }), ConfigError);
    const three = await q(`SELECT to_regclass('"${schema}".three') AS t`);
    assert.equal(three[0]?.t, null, "the failed migration left a table behind");
    assert.equal((await q(`SELECT count(*)::int AS n FROM "${schema}".schema_migrations`))[0]?.n, 2);

    await rm(join(dir, "0003_bad.sql"));
    await writeFile(join(dir, "0002_two.sql"), "CREATE TABLE two (id int, extra text);");
    await assert.rejects(migrate({ url: PG_URL, schema, dir }), /changed after it was applied/);
  });

  test("a bad schema name is refused with the field and a fix", async () => {
    await assert.rejects(migrate({ url: PG_URL, schema: "Robert'); DROP" }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.issues[0]?.field, "storage.postgres_schema");
      return true;
    });
  });
});
