/**
 * Reads an OPA bundle (`opa build -t wasm`, a gzipped tar) into its wasm
 * module, data document and manifest. The tar reader covers what `opa build`
 * writes (ustar regular files, with pax or GNU long-name records tolerated);
 * opa-wasm itself only accepts the raw wasm bytes.
 */
import { gunzipSync } from "node:zlib";
import { ValidationError } from "../errors/index.ts";

export interface BundleManifest {
  readonly revision?: string;
  readonly wasm?: ReadonlyArray<{ readonly entrypoint: string; readonly module: string }>;
}

export interface PolicyBundle {
  /** The wasm module for `entrypoint`. */
  readonly wasm: Uint8Array;
  /** Every `data.json` of the bundle merged at its directory's path. */
  readonly data: Record<string, unknown>;
  readonly manifest: BundleManifest;
}

const BLOCK = 512;

/** A bundle that cannot be used, named with the config field that points at it and how to rebuild it. */
export function bundleError(message: string, cause?: unknown): ValidationError {
  return new ValidationError(message, {
    field: "policy.bundle_path",
    fix: "rebuild the bundle with scripts/setup (it compiles policies/ with opa build -t wasm), or point policy.bundle_path at one",
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Parses a bundle; throws a `ValidationError` naming what is wrong when it is not a usable wasm bundle. */
export function parseBundle(gzipped: Uint8Array, entrypoint: string): PolicyBundle {
  let tar: Buffer;
  try {
    tar = gunzipSync(gzipped);
  } catch (error) {
    throw bundleError(`bundle is not gzip: ${(error as Error).message}`, error);
  }
  const files = readTar(tar);

  const manifestBytes = files.get("/.manifest");
  const manifest = manifestBytes ? (parseJson(manifestBytes, ".manifest") as BundleManifest) : {};
  const modulePath =
    manifest.wasm?.find((w) => w.entrypoint === entrypoint)?.module ?? manifest.wasm?.[0]?.module ?? "/policy.wasm";
  const wasm = files.get(normalize(modulePath));
  if (!wasm) throw bundleError(`bundle has no wasm module at ${modulePath}`);

  const data: Record<string, unknown> = {};
  for (const [path, bytes] of files) {
    if (!path.endsWith("/data.json")) continue;
    const segments = path.split("/").filter((s) => s !== "");
    segments.pop();
    const value = parseJson(bytes, path);
    mergeAt(data, segments, value, path);
  }
  return { wasm, data, manifest };
}

function readTar(tar: Buffer): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  let offset = 0;
  let longName: string | null = null;
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break;
    if (!checksumOk(header)) throw bundleError(`bundle tar header at byte ${offset} has a bad checksum`);
    const size = parseOctal(header.subarray(124, 136));
    const type = String.fromCharCode(header[156] ?? 0);
    const bodyStart = offset + BLOCK;
    const bodyEnd = bodyStart + size;
    if (bodyEnd > tar.length) throw bundleError(`bundle tar entry at byte ${offset} is truncated`);
    const body = tar.subarray(bodyStart, bodyEnd);
    offset = bodyStart + Math.ceil(size / BLOCK) * BLOCK;

    if (type === "L") {
      longName = cString(body);
      continue;
    }
    if (type === "x") {
      longName = paxPath(body) ?? longName;
      continue;
    }
    const magic = cString(header.subarray(257, 263));
    const prefix = magic.startsWith("ustar") ? cString(header.subarray(345, 500)) : "";
    const name =
      longName ?? (prefix ? `${prefix}/${cString(header.subarray(0, 100))}` : cString(header.subarray(0, 100)));
    longName = null;
    if (type === "0" || type === "\0") files.set(normalize(name), new Uint8Array(body));
  }
  return files;
}

function checksumOk(header: Buffer): boolean {
  const expected = parseOctal(header.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (header[i] ?? 0);
  return sum === expected;
}

function parseOctal(field: Buffer): number {
  const text = cString(field).trim();
  if (text === "") return 0;
  const value = Number.parseInt(text, 8);
  if (!Number.isFinite(value) || value < 0) throw bundleError(`bundle tar header has a bad number: ${text}`);
  return value;
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return Buffer.from(end === -1 ? bytes : bytes.subarray(0, end)).toString("utf8");
}

function paxPath(body: Uint8Array): string | null {
  for (const record of Buffer.from(body).toString("utf8").split("\n")) {
    const match = /^\d+ path=(.*)$/.exec(record);
    if (match?.[1] !== undefined) return match[1];
  }
  return null;
}

/** `./a/b`, `a/b` and `/a/b` all become `/a/b`. */
function normalize(path: string): string {
  const segments = path.split("/").filter((s) => s !== "" && s !== ".");
  return `/${segments.join("/")}`;
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (error) {
    throw bundleError(`bundle ${what} is not valid JSON: ${(error as Error).message}`, error);
  }
}

function mergeAt(root: Record<string, unknown>, segments: readonly string[], value: unknown, path: string): void {
  let node = root;
  for (const segment of segments) {
    const next = node[segment];
    if (next === undefined) node[segment] = {};
    else if (typeof next !== "object" || next === null || Array.isArray(next)) {
      throw bundleError(`bundle ${path} conflicts with other data at ${segment}`);
    }
    node = node[segment] as Record<string, unknown>;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bundleError(`bundle ${path} must hold a JSON object`);
  }
  Object.assign(node, value);
}
