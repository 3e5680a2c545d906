# METADATA
# title: Wheelhouse step authorization
# description: |
#   Decides one plan step: allow, require_approval or deny, with its risk tier,
#   the reasons, how many approvers it needs (and who: groups, channels,
#   self-approval, break-glass, approval TTL), constraints for the executor and
#   how long the decision stays valid. Every threshold lives in data.json
#   (data.wheelhouse.config); this file holds only the rules.
#   Entry point: wheelhouse/authz/decision. Compiled to wasm, so it avoids
#   builtins the wasm target delegates to the host (sprintf, time.*).
package wheelhouse.authz

cfg := data.wheelhouse.config

tier_names := ["T0", "T1", "T2", "T3"]

tier_rank := {"T0": 0, "T1": 1, "T2": 2, "T3": 3}

# Weekday names by a day's first minute since the epoch, modulo a week
# (1970-01-01 was a Thursday). Days are kept as minutes: division is decimal
# arithmetic in wasm and costs more than the rest of the window check.
weekday_at := {0: "Thu", 1440: "Fri", 2880: "Sat", 4320: "Sun", 5760: "Mon", 7200: "Tue", 8640: "Wed"}

action_kinds := {"read", "write"}

# When the policy cannot produce a complete answer (no data, input that is not
# an object), the answer is a deny: fail closed.
default decision := {
	"decision": "deny",
	"tier": "T3",
	"reasons": ["policy could not evaluate the input"],
	"approvers_required": 0,
	"constraints": {},
	"ttl": 0,
	"approval": {
		"approvers": 0, "groups": [], "self_approval": false, "channels": [], "ttl_seconds": 0,
		"break_glass": {"allowed": false, "groups": []},
	},
}

decision := {
	"decision": outcome,
	"tier": tier,
	"reasons": reasons,
	"approvers_required": approvers_required,
	"constraints": constraints,
	"ttl": ttl,
	"approval": approval,
}

# Nobody can approve: a deny, or a step that needs no approval.
no_approval := {
	"approvers": 0,
	"groups": [],
	"self_approval": false,
	"channels": [],
	"ttl_seconds": 0,
	"break_glass": {"allowed": false, "groups": []},
}

# ---------------------------------------------------------------------------
# Input checks. Each issue is a deny reason, so a malformed input never allows.
# Checks read through object.get: under `not`, a builtin whose argument is an
# undefined reference makes the whole expression undefined, not false.

inp := input if is_object(input)

else := {}

field(path) := object.get(inp, path, null)

input_issues contains "actor.id" if not is_string(field(["actor", "id"]))

input_issues contains "actor.kind" if not is_string(field(["actor", "kind"]))

input_issues contains "actor.roles" if not is_array(field(["actor", "roles"]))

input_issues contains "actor.roles" if {
	some role in input.actor.roles
	not is_string(role)
}

input_issues contains "action.id" if not is_string(field(["action", "id"]))

input_issues contains "action.name" if not is_string(field(["action", "name"]))

input_issues contains "action.kind" if not field(["action", "kind"]) in action_kinds

input_issues contains "action.reversible" if not is_boolean(field(["action", "reversible"]))

input_issues contains "action.in_catalog" if not is_boolean(field(["action", "in_catalog"]))

input_issues contains "context.plan_id" if not is_string(field(["context", "plan_id"]))

input_issues contains "resources.environment" if not is_string(field(["resources", "environment"]))

input_issues contains "resources.names" if not is_array(object.get(inp, ["resources", "names"], []))

input_issues contains "resources.names" if {
	some name in input.resources.names
	not is_string(name)
}

input_issues contains "context.approvals" if not is_array(object.get(inp, ["context", "approvals"], []))

# ---------------------------------------------------------------------------
# Rollout stage: the data's stage, narrowed (never widened) by context.stage.

stage := s if {
	is_number(input.context.stage)
	s := min({cfg.stage, input.context.stage})
} else := cfg.stage

stage_cfg := cfg.stages[format_int(stage, 10)]

# ---------------------------------------------------------------------------
# Facts about the action and its target.

is_read if input.action.kind == "read"

# Anything not declared a read is treated as a write.
is_write if not is_read

action_cfg := c if {
	c := cfg.actions[input.action.id]
} else := {}

env_name := input.resources.environment

env := cfg.environments[env_name]

is_production if env.production == true

is_delete if {
	is_write
	some marker in cfg.delete_markers
	contains(input.action.name, marker)
}

is_delete if {
	is_write
	action_cfg.delete == true
}

is_wildcard if input.resources.wildcard == true

is_wildcard if {
	some name in input.resources.names
	contains(name, "*")
}

# A delete that names nothing deletes whatever a selector matches.
is_wildcard if {
	is_delete
	count(object.get(inp, ["resources", "names"], [])) == 0
}

# ---------------------------------------------------------------------------
# Risk tier: the action's tier (data, else the catalog default), raised by
# whatever floor applies. Nothing here can lower a tier.

base_rank := r if {
	r := tier_rank[action_cfg.tier]
} else := r if {
	r := tier_rank[input.action.risk]
} else := 3

tier_floors contains 1 if is_write

tier_floors contains tier_rank[cfg.irreversible_write_min_tier] if {
	is_write
	field(["action", "reversible"]) != true
}

tier_floors contains tier_rank[cfg.production_write_min_tier] if {
	is_write
	is_production
}

tier_floors contains tier_rank[action_cfg.production_tier] if {
	is_write
	is_production
}

tier_floors contains tier_rank[cfg.delete_tier] if is_delete

tier_floors contains tier_rank[band.tier] if {
	is_write
	some band in cfg.blast_radius_tiers
	input.risk.blast_radius >= band.min
}

tier_floors contains tier_rank[input.risk.tier]

tier_idx := max(tier_floors | {base_rank})

tier := tier_names[tier_idx]

tier_reasons contains concat("", ["T0: ", input.action.id, " is read-only"]) if tier_idx == 0

tier_reasons contains concat("", [tier_names[base_rank], ": default tier of ", input.action.id]) if tier_idx > 0

tier_reasons contains concat("", ["production write: at least ", cfg.production_write_min_tier]) if {
	is_write
	is_production
}

tier_reasons contains concat("", [
	"production ", input.action.id, ": ",
	action_cfg.production_tier,
]) if {
	is_write
	is_production
	action_cfg.production_tier
}

tier_reasons contains concat("", ["irreversible write: at least ", cfg.irreversible_write_min_tier]) if {
	is_write
	field(["action", "reversible"]) != true
}

tier_reasons contains concat("", ["delete: ", cfg.delete_tier]) if is_delete

tier_reasons contains concat("", ["blast radius ", format_int(input.risk.blast_radius, 10), ": at least ", band.tier]) if {
	is_write
	some band in cfg.blast_radius_tiers
	input.risk.blast_radius >= band.min
}

tier_reasons contains concat("", ["risk override: ", input.risk.tier]) if tier_rank[input.risk.tier]

# ---------------------------------------------------------------------------
# Deny rules.

has_config if is_object(cfg)

deny_reasons contains "policy data (data.wheelhouse.config) is missing" if not has_config

deny_reasons contains concat("", ["input.", field, " is missing or malformed"]) if some field in input_issues

deny_reasons contains "input.time is missing or not an RFC 3339 timestamp" if not now_minutes

deny_reasons contains concat("", ["rollout stage ", format_int(stage, 10), " is not configured"]) if not stage_cfg

deny_reasons contains concat("", [input.action.id, " is not in the tool catalog"]) if field(["action", "in_catalog"]) != true

deny_reasons contains concat("", ["stage ", format_int(stage, 10), " is read-only: every write is denied"]) if {
	is_write
	stage_cfg.writes != true
}

deny_reasons contains concat("", [
	input.action.id, " is only available at stage 3 (expanded catalog); the current stage is ",
	format_int(stage, 10),
]) if {
	action_cfg.stage3_only == true
	stage_cfg.expanded_catalog != true
}

deny_reasons contains concat("", ["environment ", env_name, " is not configured for writes"]) if {
	is_write
	is_string(env_name)
	not env
}

deny_reasons contains concat("", ["namespace ", input.resources.namespace, " is protected"]) if {
	is_write
	input.resources.namespace in cfg.protected.namespaces
}

deny_reasons contains concat("", ["account ", input.resources.account, " is protected"]) if {
	is_write
	input.resources.account in cfg.protected.accounts
}

deny_reasons contains concat("", ["wildcard delete: ", input.action.id, " must name each resource it deletes"]) if {
	is_delete
	is_wildcard
}

deny_reasons contains concat("", [
	"replicas ", format_int(input.resources.replicas, 10), " exceed the maximum of ",
	format_int(env.max_replicas, 10), " in ", env_name,
]) if {
	is_write
	input.resources.replicas > env.max_replicas
}

deny_reasons contains concat("", [
	"replicas ", format_int(input.resources.replicas, 10), " are below the minimum of ",
	format_int(env.min_replicas, 10), " in ", env_name,
]) if {
	is_write
	input.resources.replicas < env.min_replicas
}

# The HorizontalPodAutoscaler that scales the target (from the service graph) would undo a count
# outside its bounds: the change is refused, naming the bounds.
deny_reasons contains concat("", [
	"replicas ", format_int(input.resources.replicas, 10), " are outside the bounds of HorizontalPodAutoscaler ",
	object.get(input.resources.hpa, "name", "?"), " (", format_int(input.resources.hpa.min_replicas, 10), "-",
	format_int(input.resources.hpa.max_replicas, 10), "), which would undo them: change the autoscaler's bounds instead",
]) if {
	is_write
	is_number(input.resources.replicas)
	hpa_out_of_bounds
}

hpa_out_of_bounds if input.resources.replicas < input.resources.hpa.min_replicas

hpa_out_of_bounds if input.resources.replicas > input.resources.hpa.max_replicas

deny_reasons contains "current replica count is unknown, so the step bound cannot be checked" if {
	is_write
	is_number(input.resources.replicas)
	not is_number(input.resources.current_replicas)
}

deny_reasons contains concat("", [
	"scaling from ", format_int(input.resources.current_replicas, 10), " to ",
	format_int(input.resources.replicas, 10), " changes more than ", format_int(env.max_step, 10),
	" replicas at once in ", env_name,
]) if {
	is_write
	abs(input.resources.replicas - input.resources.current_replicas) > env.max_step
}

deny_reasons contains concat("", ["actor ", input.actor.id, " has no role that may read"]) if {
	is_read
	not can_read
}

deny_reasons contains concat("", [
	"actor ", input.actor.id, " (roles: ", concat(", ", input.actor.roles), ") may not request ",
	tier, " writes; roles that may: ", concat(", ", writer_roles),
]) if {
	is_write
	not can_write
}

deny_reasons contains concat("", [input.actor.kind, " actors may not request ", tier, " writes"]) if {
	is_write
	not kind_can_write
}

deny_reasons contains concat("", [
	"outside the change window for ", env_name, "; the next window opens at ",
	window_opens_described,
]) if {
	needs_window
	not in_window
	window_opens_at
}

deny_reasons contains concat("", ["outside the change window for ", env_name, "; no window opens in the next 7 days"]) if {
	needs_window
	not in_window
	not window_opens_at
}

# ---------------------------------------------------------------------------
# Roles.

can_read if {
	some role in input.actor.roles
	cfg.roles[role].read == true
}

can_write if {
	some role in input.actor.roles
	tier_rank[cfg.roles[role].write_max_tier] >= tier_idx
}

kind_can_write if tier_rank[cfg.actor_kinds[input.actor.kind].write_max_tier] >= tier_idx

writer_roles := sort([role |
	some role, grant in cfg.roles
	tier_rank[grant.write_max_tier] >= tier_idx
])

# ---------------------------------------------------------------------------
# Change windows, at minute resolution, on the wall clock of each window's
# time zone (`tz`, an IANA name; "UTC" when absent). Windows for the
# environment, else the "*" windows; no entry at all means no window applies,
# an empty list means never open. `days` name the day a window starts; a window
# whose end is at or before its start runs past midnight into the next day
# (Sat 22:00-04:00 closes Sunday 04:00; equal start and end: 24 hours).
#
# Time zone rules are not computed here: the wasm target would hand time.* to
# the host, and the answer must not depend on which evaluator runs. The host
# (lib/policy) puts each named zone's UTC offsets around input.time into
# input.time_zones, so the decision is a pure function of its input:
#   {"Europe/Berlin": [{"from": <minutes since the epoch, UTC>, "offset": <local - UTC, minutes>}, ...]}
# sorted by `from`; the first segment also covers the time before it, the last
# the time after it. "UTC" needs no entry.

windows := w if {
	w := cfg.change_windows[env_name]
} else := cfg.change_windows["*"]

windows_key := env_name if {
	cfg.change_windows[env_name]
} else := "*"

needs_window if {
	is_write
	tier in cfg.change_window_tiers
	windows
}

# Each readable window by its index: days, local opening minute, minutes open,
# zone. Rules, not functions, so one evaluation parses each window once.
window_shapes := {i: shape |
	some i, window in windows
	shape := window_shape(window)
}

window_shape(window) := {"days": window.days, "start": start, "length": span_minutes(start, end), "zone": zone} if {
	is_array(window.days)
	start := clock_minutes(window.start)
	end := clock_minutes(window.end)
	zone := object.get(window, "tz", "UTC")
	is_string(zone)
}

malformed_windows contains i if {
	some i, _ in windows
	not window_shapes[i]
}

# The offsets of each zone the windows name; a zone without usable offsets is absent.
zone_offsets := {zone: segments |
	some shape in window_shapes
	zone := shape.zone
	segments := zone_segments(zone)
}

zones_without_offsets contains zone if {
	some shape in window_shapes
	zone := shape.zone
	not zone_offsets[zone]
}

# The windows that can be checked, each with its zone's offsets, the local time
# now and the first minute of the local day (minutes since the epoch on that
# zone's wall clock).
window_specs := [spec |
	some shape in window_shapes
	segments := zone_offsets[shape.zone]
	local_now := now_minutes + offset_at(segments, now_minutes)
	spec := {
		"days": shape.days, "start": shape.start, "length": shape.length, "zone": shape.zone,
		"segments": segments, "local_now": local_now, "today": local_now - (local_now % 1440),
	}
]

deny_reasons contains concat("", [
	"change window ", format_int(i, 10), " for ", windows_key,
	" is malformed: days names weekdays (Sun-Sat), start and end are HH:MM (00:00-23:59), tz an IANA time zone",
]) if {
	needs_window
	some i in malformed_windows
}

deny_reasons contains concat("", [
	"change windows in time zone ", zone, " cannot be checked: input.time_zones has no UTC offsets for it",
	" (lib/policy adds them for every zone the policy data's windows name)",
]) if {
	needs_window
	some zone in zones_without_offsets
}

zone_segments(zone) := [{"from": 0, "offset": 0}] if zone == "UTC"

zone_segments(zone) := segments if {
	zone != "UTC"
	segments := input.time_zones[zone]
	is_array(segments)
	count(segments) > 0
	every segment in segments {
		is_number(segment.from)
		is_number(segment.offset)
	}
}

# The offset in force at `minutes` (UTC): the last segment starting at or before it.
offset_at(segments, minutes) := segments[0].offset if {
	count(segments) == 1
} else := segments[count([1 |
	some i, segment in segments
	i > 0
	segment.from <= minutes
])].offset

in_window if {
	some spec in window_specs

	# Yesterday's window may run past midnight into today.
	some day in [spec.today - 1440, spec.today]
	weekday_at[day % 10080] in spec.days
	opens := day + spec.start
	spec.local_now >= opens
	spec.local_now < opens + spec.length
}

# The next opening (UTC minutes) of each window, by its index in window_specs.
# Only computed on the deny path. A zone whose offset does not change in the
# input's range (UTC, or no DST change within days) takes the short way.
window_next_opening[i] := min(openings) if {
	some i, spec in window_specs
	count(spec.segments) == 1
	offset := spec.segments[0].offset
	openings := {opens |
		some day in local_days(spec)
		opens := (day + spec.start) - offset
		opens > now_minutes
	}
	count(openings) > 0
}

window_next_opening[i] := min(openings) if {
	some i, spec in window_specs
	count(spec.segments) > 1
	openings := {opens |
		some day in local_days(spec)
		some opens in opening_instants(spec.segments, day + spec.start, spec.length)
		opens > now_minutes
	}
	count(openings) > 0
}

# The local days (first minutes) from today to a week ahead on which the window opens.
local_days(spec) := [day |
	some offset in numbers.range(0, 7)
	day := spec.today + (offset * 1440)
	weekday_at[day % 10080] in spec.days
]

# The instants (UTC) at which the wall clock reads `local`: one, or two in the
# repeated hour after clocks go back. A window opening inside the hour skipped
# when clocks go forward opens when the clock jumps, if it is still open then.
opening_instants(segments, local, length) := {utc |
	some segment in segments
	utc := local - segment.offset
	offset_at(segments, utc) == segment.offset
} | {segment.from |
	some i, segment in segments
	i > 0
	local - segments[i - 1].offset >= segment.from
	local - segment.offset < segment.from
	segment.from + segment.offset < local + length
}

next_opening := min({opens | some opens in window_next_opening})

# The window that opens first; on a tie, the first listed.
next_opening_spec := window_specs[min({i | some i, opens in window_next_opening; opens == next_opening})]

window_opens_at := format_minutes(next_opening)

window_opens_described := window_opens_at if {
	next_opening_spec.zone == "UTC"
} else := concat("", [
	format_wall_clock(next_opening + offset_at(next_opening_spec.segments, next_opening)), " ",
	next_opening_spec.zone, " (", window_opens_at, ")",
])

# Minutes of the day for "HH:MM" (00:00-23:59); undefined for anything else.
clock_minutes(hhmm) := (hour * 60) + minute if {
	is_string(hhmm)
	count(hhmm) == 5
	substring(hhmm, 2, 1) == ":"
	trim_left(concat("", [substring(hhmm, 0, 2), substring(hhmm, 3, 2)]), "0123456789") == ""
	hour := to_number(substring(hhmm, 0, 2))
	minute := to_number(substring(hhmm, 3, 2))
	hour <= 23
	minute <= 59
}

# How long a window stays open; an end at or before the start is on the next day.
span_minutes(start, end) := end - start if end > start

span_minutes(start, end) := (end + 1440) - start if end <= start

# ---------------------------------------------------------------------------
# Decision.

auto_approved if tier_idx == 0

auto_approved if {
	is_write
	tier in stage_cfg.auto_tiers
	env.auto_approve == true
}

approvers_needed := cfg.approvers_required[tier]

# Distinct people other than the requester.
approvers := {approval.approver |
	some approval in input.context.approvals
	is_string(approval.approver)
	approval.approver != input.actor.id
}

approved if count(approvers) >= approvers_needed

outcome := "deny" if {
	count(deny_reasons) > 0
} else := "allow" if {
	auto_approved
} else := "allow" if {
	approved
} else := "require_approval"

approvers_required := 0 if {
	outcome == "deny"
} else := 0 if {
	auto_approved
} else := approvers_needed

approval_reasons contains concat("", [tier, " write in ", env_name, " runs automatically at stage ", format_int(stage, 10)]) if {
	outcome == "allow"
	is_write
	auto_approved
}

approval_reasons contains concat("", [
	"approved by ", format_int(count(approvers), 10), " distinct approver(s); ",
	format_int(approvers_needed, 10), " required",
]) if {
	outcome == "allow"
	not auto_approved
}

approval_reasons contains concat("", [
	tier, " write needs ", format_int(approvers_needed, 10), " distinct approver(s) other than the requester; ",
	format_int(count(approvers), 10), " so far",
]) if outcome == "require_approval"

approval_reasons contains concat("", ["stage ", format_int(stage, 10), " requires approval for every write"]) if {
	outcome == "require_approval"
	count(stage_cfg.auto_tiers) == 0
}

approval_reasons contains concat("", ["environment ", env_name, " does not run ", tier, " writes automatically"]) if {
	outcome == "require_approval"
	tier in stage_cfg.auto_tiers
	env.auto_approve != true
}

approval_reasons contains "inside the change window" if {
	outcome != "deny"
	needs_window
}

reasons := sort(deny_reasons) if {
	outcome == "deny"
} else := sort(tier_reasons | approval_reasons)

ttl := 0 if {
	outcome == "deny"
} else := cfg.ttl_seconds[tier]

constraints := {"window_opens_at": window_opens_at} if {
	outcome == "deny"
	needs_window
	not in_window
	window_opens_at
} else := {} if {
	outcome == "deny"
} else := {
	"max_replicas": max_replicas,
	"allowed_namespaces": allowed_namespaces,
	"dry_run_first": dry_run_first,
}

max_replicas := env.max_replicas if {
	is_number(env.max_replicas)
} else := null

allowed_namespaces := [input.resources.namespace] if {
	is_string(input.resources.namespace)
} else := []

dry_run_first if {
	is_write
	tier in cfg.dry_run_first_tiers
	object.get(inp, ["action", "dry_run"], true) != false
}

default dry_run_first := false

# ---------------------------------------------------------------------------
# Who must approve (data.wheelhouse.config.approvals): distinct people, so many
# from each named group (one person fills one group slot), never the requester
# unless the tier allows self-approval, only through the tier's channels,
# within the approval TTL (never longer than the decision's). A member of a
# break-glass group may approve alone, with a reason, where allowed.

approvals_cfg := object.get(cfg, "approvals", {})

approval := no_approval if {
	outcome != "require_approval"
} else := {
	"approvers": approvers_required,
	"groups": object.get(approvals_cfg, ["groups", tier], []),
	"self_approval": tier in object.get(approvals_cfg, "self_approval_tiers", []),
	"channels": object.get(approvals_cfg, ["channels", tier], ["api", "cli", "console"]),
	"ttl_seconds": min({ttl, object.get(approvals_cfg, ["ttl_seconds", tier], ttl)}),
	"break_glass": {"allowed": break_glass_allowed, "groups": object.get(approvals_cfg, ["break_glass", "groups"], [])},
}

break_glass_cfg := object.get(approvals_cfg, "break_glass", {})

default break_glass_allowed := false

# Break-glass is for changes other than deletes, outside the namespaces and environments it is
# barred from (protected namespaces are denied outright, so they never get this far).
break_glass_allowed if {
	tier in object.get(break_glass_cfg, "tiers", [])
	not is_delete
	not break_glass_barred
}

break_glass_barred if input.resources.namespace in object.get(break_glass_cfg, "excluded_namespaces", [])

break_glass_barred if env_name in object.get(break_glass_cfg, "excluded_environments", [])

# ---------------------------------------------------------------------------
# input.time as minutes since the Unix epoch (UTC), parsed by hand: the wasm
# target hands time.* builtins to the host, and the policy must give the same
# answer under `opa eval` and in wasm. Accepts RFC 3339 with a "Z" or
# "+hh:mm" / "-hh:mm" offset and optional fractional seconds.

now_minutes := minutes if {
	t := input.time
	is_string(t)
	count(t) >= 20
	substring(t, 4, 1) == "-"
	substring(t, 7, 1) == "-"
	upper(substring(t, 10, 1)) == "T"
	substring(t, 13, 1) == ":"
	substring(t, 16, 1) == ":"
	digits := concat("", [
		substring(t, 0, 4), substring(t, 5, 2), substring(t, 8, 2),
		substring(t, 11, 2), substring(t, 14, 2), substring(t, 17, 2),
	])
	trim_left(digits, "0123456789") == ""
	year := to_number(substring(t, 0, 4))
	month := to_number(substring(t, 5, 2))
	day := to_number(substring(t, 8, 2))
	hour := to_number(substring(t, 11, 2))
	minute := to_number(substring(t, 14, 2))
	month >= 1
	month <= 12
	day >= 1
	day <= 31
	hour <= 23
	minute <= 59
	to_number(substring(t, 17, 2)) <= 60
	offset := zone_offset_minutes(zone_designator(substring(t, 19, -1)))
	minutes := (((days_from_civil(year, month, day) * 1440) + (hour * 60)) + minute) - offset
}

# The part after the seconds, without fractional seconds.
zone_designator(rest) := rest if not startswith(rest, ".")

zone_designator(rest) := zone if {
	startswith(rest, ".")
	zone := trim_left(substring(rest, 1, -1), "0123456789")
	count(zone) < count(rest) - 1
}

zone_offset_minutes(zone) := 0 if upper(zone) == "Z"

zone_offset_minutes(zone) := offset if {
	count(zone) == 6
	substring(zone, 3, 1) == ":"
	trim_left(concat("", [substring(zone, 1, 2), substring(zone, 4, 2)]), "0123456789") == ""
	sign := {"+": 1, "-": -1}[substring(zone, 0, 1)]
	offset := sign * ((to_number(substring(zone, 1, 2)) * 60) + to_number(substring(zone, 4, 2)))
}

# Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
days_from_civil(year, month, day) := days if {
	y := year - jan_feb(month)
	era := floor(y / 400)
	yoe := y - (era * 400)
	doy := (floor(((153 * ((month + 9) % 12)) + 2) / 5) + day) - 1
	doe := (((yoe * 365) + floor(yoe / 4)) - floor(yoe / 100)) + doy
	days := ((era * 146097) + doe) - 719468
}

jan_feb(month) := 1 if month <= 2

jan_feb(month) := 0 if month > 2

# Minutes since the epoch as "YYYY-MM-DDTHH:MM:00Z".
format_minutes(minutes) := concat("", [
	format_int(date[0], 10), "-", pad2(date[1]), "-", pad2(date[2]), "T",
	pad2(floor(minute_of_day / 60)), ":", pad2(minute_of_day % 60), ":00Z",
]) if {
	day := floor(minutes / 1440)
	minute_of_day := minutes - (day * 1440)
	date := civil_from_days(day)
}

# Local minutes since the epoch as "Mon 09:00": the weekday and the clock, which
# the UTC timestamp beside it dates (a civil date costs more than the rest of a
# decision's window check in wasm).
format_wall_clock(minutes) := concat("", [
	weekday_at[(minutes - minute_of_day) % 10080], " ",
	pad2((minute_of_day - (minute_of_day % 60)) / 60), ":", pad2(minute_of_day % 60),
]) if {
	minute_of_day := minutes % 1440
}

civil_from_days(days) := [year, month, day] if {
	z := days + 719468
	era := floor(z / 146097)
	doe := z - (era * 146097)
	yoe := floor((((doe - floor(doe / 1460)) + floor(doe / 36524)) - floor(doe / 146096)) / 365)
	doy := doe - (((365 * yoe) + floor(yoe / 4)) - floor(yoe / 100))
	mp := floor(((5 * doy) + 2) / 153)
	day := (doy - floor(((153 * mp) + 2) / 5)) + 1
	month := month_from_march(mp)
	year := (yoe + (era * 400)) + jan_feb(month)
}

month_from_march(mp) := mp + 3 if mp < 10

month_from_march(mp) := mp - 9 if mp >= 10

pad2(n) := concat("", ["0", format_int(n, 10)]) if n < 10

pad2(n) := format_int(n, 10) if n >= 10
