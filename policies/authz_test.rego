package wheelhouse.authz_test

import data.wheelhouse.authz

# Tuesday 2026-03-10 14:05 UTC: inside the default Mon-Thu 09:00-16:00 window.
base := {
	"actor": {"id": "alice", "kind": "user", "roles": ["operator"]},
	"action": {
		"id": "kubectl.scale", "tool": "kubectl", "name": "scale", "kind": "write",
		"reversible": true, "risk": "T1", "in_catalog": true, "dry_run": true,
	},
	"context": {"plan_id": "p1", "step_id": "s1", "source": "api"},
	"resources": {
		"environment": "staging", "namespace": "shop", "service": "checkout", "account": null,
		"cluster": null, "replicas": 5, "current_replicas": 3, "names": ["checkout"], "wildcard": false,
	},
	"risk": {"blast_radius": 1},
	"time": "2026-03-10T14:05:00.000Z",
}

read_action := {
	"id": "kubectl.get", "tool": "kubectl", "name": "get", "kind": "read",
	"reversible": false, "risk": "T0", "in_catalog": true,
}

helm_upgrade := {
	"id": "helm.upgrade", "tool": "helm", "name": "upgrade", "kind": "write",
	"reversible": true, "risk": "T2", "in_catalog": true, "dry_run": true,
}

vault_put := {
	"id": "vault.kv_put", "tool": "vault", "name": "kv_put", "kind": "write",
	"reversible": true, "risk": "T3", "in_catalog": true, "dry_run": false,
}

rollout_undo := {
	"id": "kubectl.rollout_undo", "tool": "kubectl", "name": "rollout_undo", "kind": "write",
	"reversible": true, "risk": "T2", "in_catalog": true, "dry_run": true,
}

kubectl_delete := {
	"id": "kubectl.delete", "tool": "kubectl", "name": "delete", "kind": "write",
	"reversible": false, "risk": "T3", "in_catalog": true, "dry_run": true,
}

no_replicas := {"replicas": null, "current_replicas": null}

two_approvals := [{"approver": "bob", "at": "2026-03-10T13:00:00Z"}, {"approver": "carol", "at": "2026-03-10T13:01:00Z"}]

# Evaluates with the data's stage set to `stage`.
decide(patch, stage) := d if {
	d := authz.decision with input as object.union(base, patch)
		with data.wheelhouse.config.stage as stage
}

has_reason(d, fragment) if {
	some r in d.reasons
	contains(r, fragment)
}

# --- stages -----------------------------------------------------------------

test_stage0_denies_every_write if {
	d := decide({}, 0)
	d.decision == "deny"
	has_reason(d, "stage 0 is read-only")
	d.ttl == 0
	d.approvers_required == 0
}

test_stage0_allows_reads if {
	d := decide({"action": read_action, "resources": no_replicas}, 0)
	d.decision == "allow"
	d.tier == "T0"
	d.approvers_required == 0
	d.ttl == 300
	has_reason(d, "is read-only")
}

test_stage1_requires_approval_for_t1 if {
	d := decide({}, 1)
	d.decision == "require_approval"
	d.tier == "T1"
	d.approvers_required == 1
	has_reason(d, "stage 1 requires approval for every write")
}

test_stage2_runs_t1_automatically_in_staging if {
	d := decide({}, 2)
	d.decision == "allow"
	d.tier == "T1"
	d.approvers_required == 0
	d.ttl == 900
	d.constraints == {"max_replicas": 20, "allowed_namespaces": ["shop"], "dry_run_first": false}
	has_reason(d, "runs automatically at stage 2")
}

test_stage2_t1_needs_approval_where_env_does_not_auto_approve if {
	d := authz.decision with input as object.union(base, {"resources": {"environment": "qa"}})
		with data.wheelhouse.config.stage as 2
		with data.wheelhouse.config.environments.qa as {
			"production": false, "auto_approve": false,
			"min_replicas": 0, "max_replicas": 10, "max_step": 5,
		}
	d.decision == "require_approval"
	has_reason(d, "environment qa does not run T1 writes automatically")
}

test_stage3_only_action_denied_below_stage3 if {
	d := decide({"action": {"id": "kubectl.drain", "name": "drain"}, "resources": no_replicas}, 2)
	d.decision == "deny"
	has_reason(d, "only available at stage 3")
}

test_stage3_only_action_allowed_at_stage3 if {
	d := decide({"action": {"id": "kubectl.drain", "name": "drain"}, "resources": no_replicas}, 3)
	d.decision == "require_approval"
	d.tier == "T3"
	d.approvers_required == 2
}

kubectl_apply := {
	"id": "kubectl.apply", "tool": "kubectl", "name": "apply", "kind": "write",
	"reversible": true, "risk": "T2", "in_catalog": true, "dry_run": true,
}

helm_uninstall := {
	"id": "helm.uninstall", "tool": "helm", "name": "uninstall", "kind": "write",
	"reversible": false, "risk": "T3", "in_catalog": true, "dry_run": true,
}

no_names := {"replicas": null, "current_replicas": null, "names": []}

test_apply_is_stage3_only if {
	d := decide({"action": kubectl_apply, "resources": no_names}, 2)
	d.decision == "deny"
	has_reason(d, "kubectl.apply is only available at stage 3")
}

test_apply_at_stage3_is_t2_in_staging_with_a_dry_run_first if {
	d := decide({"action": kubectl_apply, "resources": no_names}, 3)
	d.decision == "require_approval"
	d.tier == "T2"
	d.approvers_required == 1
	d.constraints.dry_run_first == true
}

test_apply_in_production_is_t3 if {
	d := decide({"action": kubectl_apply, "resources": object.union(no_names, {"environment": "production"})}, 3)
	d.tier == "T3"
	d.approvers_required == 2
	has_reason(d, "production kubectl.apply: T3")
}

test_apply_to_a_protected_namespace_is_denied if {
	d := decide({"action": kubectl_apply, "resources": object.union(no_names, {"namespace": "kube-system"})}, 3)
	d.decision == "deny"
	has_reason(d, "namespace kube-system is protected")
}

test_uninstall_is_stage3_only_and_t3 if {
	below := decide({"action": helm_uninstall, "resources": no_names}, 2)
	below.decision == "deny"
	has_reason(below, "helm.uninstall is only available at stage 3")
	d := decide({"action": helm_uninstall, "resources": {"replicas": null, "current_replicas": null, "names": ["payments"]}}, 3)
	d.decision == "require_approval"
	d.tier == "T3"
	d.approvers_required == 2
}

# An uncordon gives a node back to the scheduler: T1, so it runs on its own at stage 3 where T1 does.
test_node_cordon_and_uncordon_are_stage3_only if {
	cordon := decide({"action": {"id": "kubectl.cordon", "name": "cordon"}, "resources": no_names}, 2)
	cordon.decision == "deny"
	uncordon := decide({"action": {"id": "kubectl.uncordon", "name": "uncordon"}, "resources": no_names}, 3)
	uncordon.tier == "T1"
	uncordon.decision == "allow"
}

test_context_stage_narrows if {
	d := decide({"context": {"stage": 0}}, 3)
	d.decision == "deny"
	has_reason(d, "stage 0 is read-only")
}

test_context_stage_cannot_widen if {
	d := decide({"context": {"stage": 3}}, 1)
	d.decision == "require_approval"
	has_reason(d, "stage 1 requires approval")
}

test_unconfigured_stage_denies if {
	d := decide({}, 7)
	d.decision == "deny"
	has_reason(d, "rollout stage 7 is not configured")
}

# --- tiers ------------------------------------------------------------------

test_t2_production_scale if {
	d := decide({"resources": {"environment": "production", "replicas": 6, "current_replicas": 4}}, 2)
	d.decision == "require_approval"
	d.tier == "T2"
	d.approvers_required == 1
	d.ttl == 3600
	d.constraints.dry_run_first == true
	d.constraints.max_replicas == 50
	has_reason(d, "production write: at least T2")
}

test_scale_outside_hpa_bounds_denied if {
	hpa := {"name": "checkout", "min_replicas": 2, "max_replicas": 12}
	above := decide({"resources": {"replicas": 13, "current_replicas": 10, "hpa": hpa}}, 3)
	above.decision == "deny"
	has_reason(above, "replicas 13 are outside the bounds of HorizontalPodAutoscaler checkout (2-12)")
	below := decide({"resources": {"replicas": 1, "current_replicas": 2, "hpa": hpa}}, 3)
	below.decision == "deny"
	has_reason(below, "replicas 1 are outside the bounds")
	inside := decide({"resources": {"replicas": 6, "current_replicas": 2, "hpa": hpa}}, 3)
	inside.decision != "deny"
	not has_reason(inside, "HorizontalPodAutoscaler")
}

test_t2_helm_upgrade_one_approver if {
	d := decide({"action": helm_upgrade, "resources": no_replicas}, 3)
	d.decision == "require_approval"
	d.tier == "T2"
	d.approvers_required == 1
}

test_t2_approved_by_one_other_person if {
	d := decide({"action": helm_upgrade, "resources": no_replicas, "context": {"approvals": [{"approver": "bob", "at": "x"}]}}, 3)
	d.decision == "allow"
	d.approvers_required == 1
	has_reason(d, "approved by 1 distinct approver(s)")
}

test_self_approval_does_not_count if {
	d := decide({"action": helm_upgrade, "resources": no_replicas, "context": {"approvals": [{"approver": "alice", "at": "x"}]}}, 3)
	d.decision == "require_approval"
	has_reason(d, "0 so far")
}

test_t3_secret_rotation_needs_two_distinct_approvers if {
	one := decide({"action": vault_put, "resources": no_replicas, "context": {"approvals": [{"approver": "bob", "at": "x"}, {"approver": "bob", "at": "y"}]}}, 3)
	one.decision == "require_approval"
	one.tier == "T3"
	one.approvers_required == 2
	one.constraints.dry_run_first == false
	has_reason(one, "inside the change window")
	two := decide({"action": vault_put, "resources": no_replicas, "context": {"approvals": two_approvals}}, 3)
	two.decision == "allow"
	two.ttl == 1800
}

test_t3_production_rollback if {
	d := decide({"action": rollout_undo, "resources": object.union(no_replicas, {"environment": "production"})}, 3)
	d.tier == "T3"
	d.approvers_required == 2
	has_reason(d, "production kubectl.rollout_undo: T3")
}

test_rollback_outside_production_stays_t2 if {
	d := decide({"action": rollout_undo, "resources": no_replicas}, 3)
	d.tier == "T2"
}

test_named_delete_is_t3 if {
	d := decide({"action": kubectl_delete, "resources": object.union(no_replicas, {"names": ["pod-1"]})}, 3)
	d.decision == "require_approval"
	d.tier == "T3"
	has_reason(d, "delete: T3")
}

test_delete_flag_in_data_is_t3 if {
	d := authz.decision with input as object.union(base, {"action": {"id": "gh.branch_prune", "name": "branch_prune", "risk": "T1"}, "resources": no_replicas})
		with data.wheelhouse.config.stage as 3
		with data.wheelhouse.config.actions as {"gh.branch_prune": {"tier": "T1", "delete": true}}
	d.tier == "T3"
}

test_irreversible_write_is_at_least_t2 if {
	d := decide({"action": {"id": "kubectl.rollout_restart", "name": "rollout_restart", "reversible": false}, "resources": no_replicas}, 3)
	d.tier == "T2"
	has_reason(d, "irreversible write")
}

test_blast_radius_raises_tier if {
	decide({"risk": {"blast_radius": 5}}, 3).tier == "T2"
	d := decide({"risk": {"blast_radius": 25}}, 3)
	d.tier == "T3"
	has_reason(d, "blast radius 25")
}

test_blast_radius_does_not_raise_reads if {
	decide({"action": read_action, "resources": no_replicas, "risk": {"blast_radius": 50}}, 3).tier == "T0"
}

test_risk_override_raises_but_never_lowers if {
	up := decide({"risk": {"tier": "T3", "blast_radius": 1}}, 3)
	up.tier == "T3"
	has_reason(up, "risk override: T3")
	decide({"action": helm_upgrade, "resources": no_replicas, "risk": {"tier": "T0", "blast_radius": 1}}, 3).tier == "T2"
}

test_catalog_default_tier_when_data_has_no_entry if {
	d := decide({"action": {"id": "argocd.app_get", "name": "app_get", "kind": "read", "risk": "T0"}, "resources": no_replicas}, 1)
	d.tier == "T0"
	decide({"action": {"id": "x.unknown", "name": "unknown", "risk": "bogus"}, "resources": no_replicas}, 3).tier == "T3"
}

# --- deny rules -------------------------------------------------------------

test_not_in_catalog_denied if {
	d := decide({"action": {"id": "kubectl.exec", "name": "exec", "in_catalog": false}}, 3)
	d.decision == "deny"
	has_reason(d, "kubectl.exec is not in the tool catalog")
}

test_protected_namespace_denied if {
	d := decide({"resources": {"namespace": "kube-system"}}, 3)
	d.decision == "deny"
	has_reason(d, "namespace kube-system is protected")
}

test_protected_namespace_readable if {
	decide({"action": read_action, "resources": object.union(no_replicas, {"namespace": "kube-system"})}, 3).decision == "allow"
}

test_protected_account_denied if {
	d := decide({"resources": {"account": "security"}}, 3)
	d.decision == "deny"
	has_reason(d, "account security is protected")
}

test_wildcard_deletes_denied if {
	flagged := decide({"action": kubectl_delete, "resources": object.union(no_replicas, {"names": ["a"], "wildcard": true})}, 3)
	flagged.decision == "deny"
	has_reason(flagged, "wildcard delete")
	star := decide({"action": kubectl_delete, "resources": object.union(no_replicas, {"names": ["web-*"]})}, 3)
	star.decision == "deny"
	unnamed := decide({"action": kubectl_delete, "resources": object.union(no_replicas, {"names": []})}, 3)
	unnamed.decision == "deny"
}

test_scale_above_maximum_denied if {
	d := decide({"resources": {"replicas": 21, "current_replicas": 19}}, 3)
	d.decision == "deny"
	has_reason(d, "replicas 21 exceed the maximum of 20 in staging")
}

test_scale_below_minimum_denied if {
	d := decide({"resources": {"environment": "production", "replicas": 1, "current_replicas": 2}}, 3)
	d.decision == "deny"
	has_reason(d, "below the minimum of 2 in production")
}

test_scale_step_too_large_denied if {
	d := decide({"resources": {"replicas": 10, "current_replicas": 2}}, 3)
	d.decision == "deny"
	has_reason(d, "scaling from 2 to 10 changes more than 5 replicas")
}

test_scale_with_unknown_current_denied if {
	d := decide({"resources": {"current_replicas": null}}, 3)
	d.decision == "deny"
	has_reason(d, "current replica count is unknown")
}

test_scale_at_bounds_allowed if {
	decide({"resources": {"replicas": 20, "current_replicas": 15}}, 2).decision == "allow"
}

test_viewer_cannot_write if {
	d := decide({"actor": {"roles": ["viewer"]}}, 3)
	d.decision == "deny"
	has_reason(d, "(roles: viewer) may not request T1 writes; roles that may: admin, operator")
}

test_approver_role_alone_cannot_request if {
	decide({"actor": {"roles": ["approver"]}}, 3).decision == "deny"
}

test_admin_can_request_t3 if {
	decide({"actor": {"roles": ["admin"]}, "action": vault_put, "resources": no_replicas}, 3).decision == "require_approval"
}

test_actor_without_roles_cannot_read if {
	d := decide({"actor": {"roles": []}, "action": read_action, "resources": no_replicas}, 3)
	d.decision == "deny"
	has_reason(d, "has no role that may read")
}

test_service_actor_cannot_request_t3 if {
	d := decide({"actor": {"kind": "service"}, "action": vault_put, "resources": no_replicas}, 3)
	d.decision == "deny"
	has_reason(d, "service actors may not request T3 writes")
	decide({"actor": {"kind": "service"}, "action": helm_upgrade, "resources": no_replicas}, 3).decision == "require_approval"
}

test_unknown_environment_write_denied if {
	d := decide({"resources": {"environment": "moon"}}, 3)
	d.decision == "deny"
	has_reason(d, "environment moon is not configured")
	r := decide({"action": read_action, "resources": object.union(no_replicas, {"environment": "moon"})}, 3)
	r.decision == "allow"
	r.constraints.max_replicas == null
}

test_missing_fields_denied if {
	d := authz.decision with input as {"action": {"kind": "delete"}, "resources": {"names": [1]}, "context": {"approvals": "x"}}
	d.decision == "deny"
	every field in [
		"actor.id", "actor.kind", "actor.roles", "action.id", "action.name", "action.kind",
		"action.reversible", "action.in_catalog", "context.plan_id", "resources.environment",
		"resources.names", "context.approvals",
	] {
		has_reason(d, concat("", ["input.", field, " is missing"]))
	}
	has_reason(d, "input.time is missing")
}

test_non_string_role_denied if {
	d := decide({"actor": {"roles": ["operator", 7]}}, 3)
	d.decision == "deny"
	has_reason(d, "input.actor.roles is missing or malformed")
}

test_non_array_names_denied if {
	decide({"resources": {"names": "checkout"}}, 3).decision == "deny"
}

test_missing_data_denies if {
	d := authz.decision with input as base with data.wheelhouse.config as null
	d.decision == "deny"
	has_reason(d, "policy data (data.wheelhouse.config) is missing")
}

test_input_not_an_object_denies if {
	d := authz.decision with input as "allow me"
	d.decision == "deny"
}

# --- change windows ---------------------------------------------------------

test_t3_outside_window_denied_with_opening_time if {
	# Friday 2026-03-13 12:05 UTC (14:05+02:00): next window Monday 09:00 UTC.
	d := decide({"action": vault_put, "resources": no_replicas, "context": {"approvals": two_approvals}, "time": "2026-03-13T14:05:00+02:00"}, 3)
	d.decision == "deny"
	d.reasons == ["outside the change window for staging; the next window opens at 2026-03-16T09:00:00Z"]
	d.constraints == {"window_opens_at": "2026-03-16T09:00:00Z"}
}

test_window_opens_later_today if {
	d := decide({"action": vault_put, "resources": no_replicas, "time": "2026-03-10T07:30:00Z"}, 3)
	d.constraints.window_opens_at == "2026-03-10T09:00:00Z"
}

test_window_end_is_exclusive if {
	decide({"action": vault_put, "resources": no_replicas, "time": "2026-03-10T16:00:00Z"}, 3).decision == "deny"
	decide({"action": vault_put, "resources": no_replicas, "time": "2026-03-10T15:59:59Z"}, 3).decision == "require_approval"
	decide({"action": vault_put, "resources": no_replicas, "time": "2026-03-10T09:00:00Z"}, 3).decision == "require_approval"
}

test_window_across_year_end if {
	# Friday 2027-12-31 -> Monday 2028-01-03.
	d := decide({"action": vault_put, "resources": no_replicas, "time": "2027-12-31T10:00:00Z"}, 3)
	d.constraints.window_opens_at == "2028-01-03T09:00:00Z"
}

test_window_on_leap_day if {
	# 2028-02-29 is a Tuesday.
	decide({"action": vault_put, "resources": no_replicas, "time": "2028-02-29T10:00:00Z"}, 3).decision == "require_approval"
	d := decide({"action": vault_put, "resources": no_replicas, "time": "2028-02-26T10:00:00Z"}, 3)
	d.constraints.window_opens_at == "2028-02-28T09:00:00Z"
}

test_environment_specific_window if {
	d := authz.decision with input as object.union(base, {"action": vault_put, "resources": no_replicas, "time": "2026-03-14T10:00:00Z"})
		with data.wheelhouse.config.stage as 3
		with data.wheelhouse.config.change_windows as {"staging": [{"days": ["Sat"], "start": "08:00", "end": "12:00"}]}
	d.decision == "require_approval"
}

test_empty_window_list_never_opens if {
	d := authz.decision with input as object.union(base, {"action": vault_put, "resources": no_replicas})
		with data.wheelhouse.config.stage as 3
		with data.wheelhouse.config.change_windows as {"staging": []}
	d.decision == "deny"
	has_reason(d, "no window opens in the next 7 days")
	d.constraints == {}
}

test_no_windows_configured_means_unrestricted if {
	d := authz.decision with input as object.union(base, {"action": vault_put, "resources": no_replicas, "time": "2026-03-14T23:00:00Z"})
		with data.wheelhouse.config.stage as 3
		with authz.cfg as object.remove(data.wheelhouse.config, ["change_windows"])
	d.decision == "require_approval"
}

test_windows_do_not_apply_below_t3 if {
	decide({"action": helm_upgrade, "resources": no_replicas, "time": "2026-03-14T23:00:00Z"}, 3).decision == "require_approval"
}

test_time_formats if {
	ok := [
		"2026-03-10T14:05:00Z", "2026-03-10t14:05:00z", "2026-03-10T14:05:00.123456Z",
		"2026-03-10T16:05:00+02:00", "2026-03-10T09:05:00-05:00",
	]
	every t in ok {
		decide({"action": vault_put, "resources": no_replicas, "time": t}, 3).decision == "require_approval"
	}
	bad := [
		"yesterday", "2026-13-10T14:05:00Z", "2026-03-10 14:05:00", "2026-03-10T14:05:00",
		"2026-03-10T14:05:00.Z", "2026-03-10T14:05:00+0200", "2026-03-10T24:05:00Z", "2026-0a-10T14:05:00Z",
		"2026-03-10T14:05:00*02:00", "2026-03-10T14:05:00+0a:00",
	]
	every t in bad {
		d := decide({"action": read_action, "resources": no_replicas, "time": t}, 3)
		d.decision == "deny"
		has_reason(d, "input.time is missing or not an RFC 3339 timestamp")
	}
}

# --- constraints ------------------------------------------------------------

test_constraints_without_namespace if {
	d := decide({"action": helm_upgrade, "resources": object.union(no_replicas, {"namespace": null})}, 3)
	d.constraints.allowed_namespaces == []
	d.constraints.dry_run_first == true
}

test_dry_run_first_only_when_supported if {
	decide({"action": object.union(helm_upgrade, {"dry_run": false}), "resources": no_replicas}, 3).constraints.dry_run_first == false
}

test_incomplete_decision_falls_back_to_deny if {
	d := authz.decision with input as base with authz.tier_names as []
	d.decision == "deny"
	d.reasons == ["policy could not evaluate the input"]
}
