/**
 * Applies pending migrations: `npm run migrate`.
 * Reads WHEELHOUSE_STORAGE__POSTGRES_URL and WHEELHOUSE_STORAGE__POSTGRES_SCHEMA
 * (through the config loader, so a config file works too).
 */
import { loadConfig } from "../lib/config/index.ts";
import { migrate } from "../lib/db/migrate.ts";
import { toWheelhouseError } from "../lib/errors/index.ts";

try {
  const config = loadConfig();
  const { postgres_url: url, postgres_schema: schema } = config.storage;
  const result = await migrate({ url, schema });
  const applied = result.applied.length > 0 ? result.applied.join(", ") : "none";
  console.log(`migrations in schema ${schema}: applied ${applied}; ${result.skipped.length} already applied`);
} catch (e) {
  const err = toWheelhouseError(e);
  console.error(`migrate failed: ${err.message}${err.fix ? `\nfix: ${err.fix}` : ""}`);
  process.exit(1);
}
