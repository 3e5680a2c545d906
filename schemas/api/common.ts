/** Shapes shared by every endpoint: ids, pagination, problems, command acknowledgements. */
import * as v from "valibot";
import { IdSchema } from "../../events/index.ts";

export { IdSchema };

/** Query strings arrive as text; this reads a bounded page size from one. */
export const LimitSchema = v.optional(
  v.pipe(
    v.string(),
    v.regex(/^\d{1,4}$/, "must be a whole number"),
    v.transform(Number),
    v.minValue(1, "must be at least 1"),
    v.maxValue(500, "must be at most 500"),
  ),
  "50",
);

/** Opaque continuation token from the previous page's `next_cursor`. */
export const CursorSchema = v.optional(
  v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,200}$/, "must be a next_cursor value returned by a previous page")),
);

/** RFC 3339 (ISO 8601 with a zone), e.g. `2026-01-31T12:00:00Z`. */
export const TimestampSchema = v.pipe(
  v.string(),
  v.isoTimestamp("must be an RFC 3339 timestamp with a zone, such as 2026-01-31T12:00:00Z"),
);

/**
 * The list filters every read model's list shares: who asked (`requester`: the actor id, e.g. the
 * token's `sub`) and when it was created (`from` inclusive, `to` exclusive).
 */
export const CreatedFilterEntries = {
  requester: v.optional(
    v.pipe(
      v.string(),
      v.minLength(1, "must not be empty"),
      v.maxLength(256, "must be at most 256 characters"),
      v.regex(/^[^\s]+$/, "must be an actor id without spaces, e.g. alice"),
    ),
  ),
  from: v.optional(TimestampSchema),
  to: v.optional(TimestampSchema),
};

export const WaitSchema = v.optional(
  v.pipe(v.string(), v.regex(/^\d{1,3}$/, "must be whole seconds, e.g. 5"), v.transform(Number)),
);

export const ActorViewSchema = v.object({
  kind: v.picklist(["user", "service", "system"]),
  id: v.string(),
  roles: v.optional(v.array(v.string())),
  display_name: v.optional(v.string()),
});

/**
 * `GET /v1/me`: the caller as the gateway authenticated them: their id, the roles their groups map
 * to (what every route checks) and their approver groups. The console shows or hides actions by it.
 */
export const MeResponseSchema = v.object({
  kind: v.picklist(["user", "service", "system"]),
  id: v.string(),
  roles: v.array(v.picklist(["viewer", "operator", "approver", "admin"])),
  groups: v.array(v.string()),
  display_name: v.nullable(v.string()),
});

/** 202 answer to a command: what was created, where to read it, and the stream position of the append. */
export const AcceptedSchema = v.object({
  id: v.string(),
  kind: v.picklist(["plan", "execution", "approval", "signal"]),
  location: v.string(),
  /** Stream sequence of the append: pass it as a WebSocket cursor to see what follows. */
  seq: v.number(),
  duplicate: v.boolean(),
  /** Whether the read model had caught up when the answer was sent (only with `Prefer: wait`). */
  projected: v.optional(v.boolean()),
  /**
   * `POST /v1/plans`: whether secrets were redacted from the intent before it
   * was recorded (it then holds `[REDACTED:<kind>]` where they were).
   */
  redacted: v.optional(v.boolean()),
});
export type Accepted = v.InferOutput<typeof AcceptedSchema>;

export const ProblemSchema = v.object({
  type: v.string(),
  title: v.string(),
  status: v.number(),
  detail: v.string(),
  code: v.string(),
  instance: v.optional(v.string()),
  field: v.optional(v.string()),
  fix: v.optional(v.string()),
  errors: v.optional(v.array(v.object({ field: v.string(), message: v.string(), fix: v.optional(v.string()) }))),
});

export function pageSchema<T extends v.GenericSchema>(item: T) {
  return v.object({ items: v.array(item), next_cursor: v.nullable(v.string()) });
}
