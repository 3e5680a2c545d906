package wheelhouse.windows_test

import data.wheelhouse.authz
import data.wheelhouse.authz_test.base
import data.wheelhouse.authz_test.no_replicas
import data.wheelhouse.authz_test.vault_put

# Change windows in a time zone and across midnight. The UTC offsets are what
# lib/policy puts into input.time_zones (Node's tz database); the transitions
# here are the real ones: Europe/Berlin goes to summer time at 2026-03-29
# 01:00 UTC and back at 2026-10-25 01:00 UTC, America/New_York to summer time
# at 2026-03-08 07:00 UTC. `from` is minutes since the epoch (UTC).

berlin_march := {"Europe/Berlin": [{"from": 29538720, "offset": 60}, {"from": 29579100, "offset": 120}]}

berlin_october := {"Europe/Berlin": [{"from": 29846880, "offset": 120}, {"from": 29881500, "offset": 60}]}

new_york_march := {"America/New_York": [{"from": 29538720, "offset": -300}, {"from": 29549220, "offset": -240}]}

berlin_office := [{"days": ["Mon", "Tue", "Wed", "Thu"], "start": "09:00", "end": "16:00", "tz": "Europe/Berlin"}]

saturday_night := [{"days": ["Sat"], "start": "22:00", "end": "04:00"}]

# A T3 write to staging at `time`, with `windows` as staging's windows.
decide_at(windows, time, zones) := d if {
	d := authz.decision with input as object.union(base, {
		"action": vault_put, "resources": no_replicas,
		"time": time, "time_zones": zones,
	})
		with data.wheelhouse.config.stage as 3
		with data.wheelhouse.config.change_windows as {"staging": windows}
}

inside(windows, time, zones) if decide_at(windows, time, zones).decision == "require_approval"

outside(windows, time, zones) if {
	d := decide_at(windows, time, zones)
	d.decision == "deny"
	some r in d.reasons
	startswith(r, "outside the change window for staging")
}

opens_at(windows, time, zones) := decide_at(windows, time, zones).constraints.window_opens_at

# --- time zones ---------------------------------------------------------------

test_zone_window_follows_local_time if {
	# Tuesday 08:30 UTC is 09:30 in Berlin: open, though 08:30 is before 09:00 UTC.
	inside(berlin_office, "2026-03-10T08:30:00Z", berlin_march)
	inside(berlin_office, "2026-03-10T14:59:00Z", berlin_march)

	# 15:00 UTC is 16:00 in Berlin: closed, though a UTC window would still be open.
	outside(berlin_office, "2026-03-10T15:00:00Z", berlin_march)
	outside(berlin_office, "2026-03-10T07:59:00Z", berlin_march)
}

test_zone_window_deny_names_local_and_utc_time if {
	d := decide_at(berlin_office, "2026-03-10T15:30:00Z", berlin_march)
	d.reasons == ["outside the change window for staging; the next window opens at Wed 09:00 Europe/Berlin (2026-03-11T08:00:00Z)"]
	d.constraints == {"window_opens_at": "2026-03-11T08:00:00Z"}
}

test_zone_local_day_differs_from_utc_day if {
	# Thursday 23:30 UTC is already Friday 00:30 in Berlin; the window of Monday 09:00 is next.
	opens_at(berlin_office, "2026-03-12T23:30:00Z", berlin_march) == "2026-03-16T08:00:00Z"

	# Sunday 23:30 UTC is Monday 00:30 in Berlin: Monday's window opens in 8.5 hours.
	opens_at(berlin_office, "2026-03-15T23:30:00Z", berlin_march) == "2026-03-16T08:00:00Z"
}

test_utc_window_explicit_tz_is_the_default if {
	utc := [{"days": ["Tue"], "start": "09:00", "end": "16:00", "tz": "UTC"}]
	inside(utc, "2026-03-10T09:00:00Z", {})
	d := decide_at(utc, "2026-03-10T16:00:00Z", {})
	d.reasons == ["outside the change window for staging; the next window opens at 2026-03-17T09:00:00Z"]
}

test_earliest_opening_across_zones if {
	both := array.concat(berlin_office, [{"days": ["Wed"], "start": "07:00", "end": "08:00"}])

	# Tuesday 16:30 UTC: Wednesday 07:00 UTC comes before Wednesday 09:00 Berlin (08:00 UTC).
	d := decide_at(both, "2026-03-10T16:30:00Z", berlin_march)
	d.reasons == ["outside the change window for staging; the next window opens at 2026-03-11T07:00:00Z"]
	inside(both, "2026-03-11T07:30:00Z", berlin_march)
}

# --- across midnight ----------------------------------------------------------

test_window_across_midnight_both_sides if {
	# Saturday 22:00 UTC to Sunday 04:00 UTC.
	inside(saturday_night, "2026-03-14T22:00:00Z", {})
	inside(saturday_night, "2026-03-14T23:59:00Z", {})
	inside(saturday_night, "2026-03-15T00:00:00Z", {})
	inside(saturday_night, "2026-03-15T03:59:00Z", {})
	outside(saturday_night, "2026-03-15T04:00:00Z", {})
	outside(saturday_night, "2026-03-14T21:59:00Z", {})
}

test_window_across_midnight_days_name_the_start if {
	# Sunday late and Saturday early are not in it: the window starts on Saturday.
	outside(saturday_night, "2026-03-15T23:00:00Z", {})
	outside(saturday_night, "2026-03-14T03:00:00Z", {})

	# Friday night does not open it either.
	outside(saturday_night, "2026-03-13T23:00:00Z", {})
}

test_window_across_midnight_next_opening if {
	opens_at(saturday_night, "2026-03-15T04:00:00Z", {}) == "2026-03-21T22:00:00Z"
	opens_at(saturday_night, "2026-03-14T12:00:00Z", {}) == "2026-03-14T22:00:00Z"
}

test_window_ending_at_midnight if {
	evening := [{"days": ["Fri"], "start": "18:00", "end": "00:00"}]
	inside(evening, "2026-03-13T23:59:00Z", {})
	outside(evening, "2026-03-14T00:00:00Z", {})
}

test_equal_start_and_end_is_a_whole_day if {
	monday := [{"days": ["Mon"], "start": "06:00", "end": "06:00"}]
	inside(monday, "2026-03-16T06:00:00Z", {})
	inside(monday, "2026-03-17T05:59:00Z", {})
	outside(monday, "2026-03-17T06:00:00Z", {})
}

test_zone_window_across_midnight if {
	# Saturday 22:00 - Sunday 04:00 in Berlin is Saturday 21:00 - Sunday 03:00 UTC in winter.
	berlin_night := [{"days": ["Sat"], "start": "22:00", "end": "04:00", "tz": "Europe/Berlin"}]
	inside(berlin_night, "2026-03-14T21:00:00Z", berlin_march)
	inside(berlin_night, "2026-03-15T02:59:00Z", berlin_march)
	outside(berlin_night, "2026-03-15T03:00:00Z", berlin_march)
	outside(berlin_night, "2026-03-14T20:59:00Z", berlin_march)

	# The next Saturday night, 2026-03-21, is still winter time.
	d := decide_at(berlin_night, "2026-03-15T03:00:00Z", berlin_march)
	d.reasons == ["outside the change window for staging; the next window opens at Sat 22:00 Europe/Berlin (2026-03-21T21:00:00Z)"]
}

# --- daylight saving time -----------------------------------------------------

test_dst_window_keeps_local_hours if {
	# Thursday before the change: 09:00 Berlin is 08:00 UTC.
	inside(berlin_office, "2026-03-26T08:00:00Z", berlin_march)
	outside(berlin_office, "2026-03-26T07:59:00Z", berlin_march)

	# Monday after it: 09:00 Berlin is 07:00 UTC, and 16:00 is 14:00 UTC.
	inside(berlin_office, "2026-03-30T07:00:00Z", berlin_march)
	outside(berlin_office, "2026-03-30T06:59:00Z", berlin_march)
	inside(berlin_office, "2026-03-30T13:59:00Z", berlin_march)
	outside(berlin_office, "2026-03-30T14:00:00Z", berlin_march)
}

test_dst_next_opening_after_the_change if {
	# Friday 2026-03-27 is winter time; Monday's 09:00 is summer time: 07:00 UTC, not 08:00.
	d := decide_at(berlin_office, "2026-03-27T12:00:00Z", berlin_march)
	d.reasons == ["outside the change window for staging; the next window opens at Mon 09:00 Europe/Berlin (2026-03-30T07:00:00Z)"]
	d.constraints.window_opens_at == "2026-03-30T07:00:00Z"
}

test_dst_back_to_winter_time if {
	# Monday 2026-10-26, after the change back: 09:00 Berlin is 08:00 UTC again.
	opens_at(berlin_office, "2026-10-23T12:00:00Z", berlin_october) == "2026-10-26T08:00:00Z"
	inside(berlin_office, "2026-10-22T07:00:00Z", berlin_october)
	outside(berlin_office, "2026-10-26T07:00:00Z", berlin_october)
	inside(berlin_office, "2026-10-26T08:00:00Z", berlin_october)
}

test_dst_window_across_midnight_new_york if {
	# Saturday 2026-03-07 22:00 EST (03:00 UTC Sunday) to Sunday 04:00 EDT (08:00 UTC):
	# five hours on the clock of that night, which skips 02:00-03:00.
	night := [{"days": ["Sat"], "start": "22:00", "end": "04:00", "tz": "America/New_York"}]
	outside(night, "2026-03-08T02:59:00Z", new_york_march)
	inside(night, "2026-03-08T03:00:00Z", new_york_march)
	inside(night, "2026-03-08T07:59:00Z", new_york_march)

	# 08:30 UTC would be 03:30 in winter time; it is 04:30 EDT: closed.
	outside(night, "2026-03-08T08:00:00Z", new_york_march)
	outside(night, "2026-03-08T08:30:00Z", new_york_march)
	d := decide_at(night, "2026-03-08T08:30:00Z", new_york_march)
	d.reasons == ["outside the change window for staging; the next window opens at Sat 22:00 America/New_York (2026-03-15T02:00:00Z)"]
}

test_dst_window_opening_in_the_skipped_hour if {
	# Berlin's clocks jump from 02:00 to 03:00 on 2026-03-29: a window from 02:30 opens at the jump.
	early := [{"days": ["Sun"], "start": "02:30", "end": "06:00", "tz": "Europe/Berlin"}]
	d := decide_at(early, "2026-03-28T12:00:00Z", berlin_march)
	d.reasons == ["outside the change window for staging; the next window opens at Sun 03:00 Europe/Berlin (2026-03-29T01:00:00Z)"]
	inside(early, "2026-03-29T01:00:00Z", berlin_march)
	outside(early, "2026-03-29T00:59:00Z", berlin_march)

	# A window wholly inside the skipped hour does not open that day; the next Sunday it does.
	skipped := [{"days": ["Sun"], "start": "02:15", "end": "02:45", "tz": "Europe/Berlin"}]
	opens_at(skipped, "2026-03-29T00:30:00Z", berlin_march) == "2026-04-05T00:15:00Z"
}

test_dst_repeated_hour_follows_the_clock if {
	# On 2026-10-25 Berlin's clocks go from 03:00 back to 02:00: 02:30-02:45 comes twice.
	repeated := [{"days": ["Sun"], "start": "02:30", "end": "02:45", "tz": "Europe/Berlin"}]
	inside(repeated, "2026-10-25T00:35:00Z", berlin_october)
	outside(repeated, "2026-10-25T00:45:00Z", berlin_october)
	inside(repeated, "2026-10-25T01:35:00Z", berlin_october)

	# Between the two, the next opening is the second time the clock reads 02:30.
	opens_at(repeated, "2026-10-25T00:50:00Z", berlin_october) == "2026-10-25T01:30:00Z"
}

# --- windows the policy cannot read -------------------------------------------

test_zone_without_offsets_denies if {
	d := decide_at(berlin_office, "2026-03-10T09:30:00Z", {})
	d.decision == "deny"
	d.reasons[0] == "change windows in time zone Europe/Berlin cannot be checked: input.time_zones has no UTC offsets for it (lib/policy adds them for every zone the policy data's windows name)"

	# Offsets that are not numbers count as none.
	bad := decide_at(berlin_office, "2026-03-10T09:30:00Z", {"Europe/Berlin": [{"from": "then", "offset": 60}]})
	bad.decision == "deny"
	has_reason_prefix(bad, "change windows in time zone Europe/Berlin cannot be checked")
}

test_zone_without_offsets_denies_even_when_another_window_is_open if {
	both := array.concat(berlin_office, [{"days": ["Tue"], "start": "00:00", "end": "00:00"}])
	d := decide_at(both, "2026-03-10T09:30:00Z", {})
	d.decision == "deny"
}

test_malformed_window_denies if {
	every window in [
		{"days": ["Tue"], "start": "9:00", "end": "16:00"},
		{"days": ["Tue"], "start": "09:00", "end": "24:00"},
		{"days": ["Tue"], "start": "09:60", "end": "16:00"},
		{"days": ["Tue"], "start": "0a:00", "end": "16:00"},
		{"days": "Tue", "start": "09:00", "end": "16:00"},
		{"days": ["Tue"], "start": "09:00", "end": "16:00", "tz": 1},
	] {
		d := decide_at([window], "2026-03-10T10:00:00Z", {})
		d.decision == "deny"
		has_reason_prefix(d, "change window 0 for staging is malformed")
	}
}

test_malformed_star_window_names_the_star if {
	d := authz.decision with input as object.union(base, {"action": vault_put, "resources": no_replicas})
		with data.wheelhouse.config.stage as 3
		with data.wheelhouse.config.change_windows as {"*": [{"days": ["Tue"], "start": "nine", "end": "16:00"}]}
	has_reason_prefix(d, "change window 0 for * is malformed")
}

has_reason_prefix(d, prefix) if {
	some r in d.reasons
	startswith(r, prefix)
}
