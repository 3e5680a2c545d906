package wheelhouse.approvals_test

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
		"environment": "production", "namespace": "shop", "service": "checkout", "account": null,
		"cluster": null, "replicas": 5, "current_replicas": 3, "names": ["checkout"], "wildcard": false,
	},
	"risk": {"blast_radius": 1},
	"time": "2026-03-10T14:05:00.000Z",
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

decide(patch) := d if {
	d := authz.decision with input as object.union(base, patch)
		with data.wheelhouse.config.stage as 1
}

# --- quorum ------------------------------------------------------------------

test_t3_needs_one_from_sre_and_one_from_security if {
	d := decide({"action": rollout_undo, "resources": no_replicas})
	d.decision == "require_approval"
	d.tier == "T3"
	d.approval.approvers == 2
	d.approval.groups == [{"group": "sre", "count": 1}, {"group": "security", "count": 1}]
	d.approval.self_approval == false
}

test_t2_needs_one_approver_from_any_group if {
	d := decide({"resources": {"environment": "staging"}})
	d.decision == "require_approval"
	d.approval.approvers == 1
	d.approval.groups == []
}

test_self_approval_only_for_tiers_data_names if {
	d := decide({}) with data.wheelhouse.config.approvals.self_approval_tiers as ["T2"]
	d.tier == "T2"
	d.approval.self_approval == true
	decide({}).approval.self_approval == false
}

# --- channels and TTL ----------------------------------------------------------

test_t3_is_not_approved_from_chat if {
	d := decide({"action": rollout_undo, "resources": no_replicas})
	not "slack" in d.approval.channels
	"cli" in d.approval.channels
	"linear" in d.approval.channels
}

test_t2_may_be_approved_from_chat if {
	"slack" in decide({}).approval.channels
}

test_approval_ttl_never_outlives_the_decision if {
	d := decide({})
	d.ttl == 3600
	d.approval.ttl_seconds == 1800
	longer := decide({}) with data.wheelhouse.config.approvals.ttl_seconds.T2 as 7200
	longer.approval.ttl_seconds == 3600
}

test_without_approvals_data_chat_may_not_approve_and_nobody_needs_a_group if {
	config := object.union(object.remove(data.wheelhouse.config, ["approvals"]), {"stage": 1})
	d := authz.decision with input as base with data.wheelhouse.config as config
	d.decision == "require_approval"
	d.approval.channels == ["api", "cli", "console"]
	d.approval.groups == []
	d.approval.ttl_seconds == d.ttl
	d.approval.break_glass == {"allowed": false, "groups": []}
}

# --- break-glass -------------------------------------------------------------

test_break_glass_is_allowed_for_an_ordinary_production_change if {
	d := decide({"action": rollout_undo, "resources": no_replicas})
	d.approval.break_glass == {"allowed": true, "groups": ["break-glass"]}
}

test_break_glass_is_barred_from_excluded_namespaces if {
	d := decide({"action": rollout_undo, "resources": object.union(no_replicas, {"namespace": "payments"})})
	d.decision == "require_approval"
	d.approval.break_glass.allowed == false
}

test_break_glass_is_barred_from_excluded_environments if {
	d := decide({"action": rollout_undo, "resources": no_replicas}) with data.wheelhouse.config.approvals.break_glass.excluded_environments as ["production"]
	d.approval.break_glass.allowed == false
}

test_break_glass_never_covers_a_delete if {
	d := decide({"action": kubectl_delete, "resources": object.union(no_replicas, {"names": ["old-job"]})})
	d.decision == "require_approval"
	d.approval.break_glass.allowed == false
}

test_break_glass_only_for_tiers_data_names if {
	d := decide({}) with data.wheelhouse.config.approvals.break_glass.tiers as ["T3"]
	d.tier == "T2"
	d.approval.break_glass.allowed == false
}

# --- nothing to approve --------------------------------------------------------

test_allowed_and_denied_steps_have_no_approvers if {
	read := decide({"action": {"id": "kubectl.get", "name": "get", "kind": "read", "risk": "T0"}, "resources": no_replicas})
	read.decision == "allow"
	read.approval.approvers == 0
	read.approval.channels == []
	denied := decide({"resources": {"namespace": "kube-system"}})
	denied.decision == "deny"
	denied.approval.break_glass.allowed == false
	fallback := authz.decision with input as "not an object"
	fallback.approval.approvers == 0
}
