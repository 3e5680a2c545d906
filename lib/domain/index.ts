/**
 * Aggregate deciders: the pure rules commands are checked against before anything is appended.
 *
 * Approvals, for every channel (API, CLI, console, Slack, Linear), go through the plan decider
 * with `handleCommand(store, planDecider, planId, (state) => envelopeDrafts(decide(cmd, state), planId, meta))`:
 *
 * - `GrantApproval` / `DenyApproval` `{ planId, revision, digest, channel, actor, comment?, breakGlass?: { reason },
 *   approvalId, now }`: the approver is `actor` (its `groups` count toward group quorums, so append with the
 *   approver's own identity). Refused: another revision (409 `revision`), another digest (409 `digest`,
 *   `extra.current_digest`), a closed window (409), self-approval unless policy allows it (403,
 *   `extra.reason: "self_approval"`), a channel policy does not allow for the tier (403 `channel`), a second
 *   answer by the same person (409), break-glass without a reason (400 `reason`) or outside policy (403).
 * - `RequestApproval` `{ planId, revision, approvalId, links?, actor, now }`: `approval.requested` once per
 *   decided revision that needs approval (nothing on a repeat), expiring at `approvalDeadline(state)`.
 * - `ExpireApproval` `{ planId, revision, actor, now }`: `approval.expired` once the window has passed while
 *   still pending; nothing when already expired, approved, denied or superseded. lib/approvals runs it
 *   from a durable timer.
 * - `RequestExecution` takes an optional `digest` (the revision the caller runs); the quorum counts only
 *   grants for the revision's digest.
 *
 * The execution decider (execution.ts) takes `CancelExecution` `{ executionId, reason, actor, planRequestedBy, now }`:
 * `execution.cancel_requested` for a requested or running execution, asked by whoever requested it or its
 * plan, or an admin (403 otherwise); 404 for an unknown execution, 409 for a finished one, nothing on a
 * repeat. `GiveVerdict` `{ executionId, decision, reason, actor, planRequestedBy, now }`:
 * `execution.verdict_requested` (naming the paused step) for an execution whose analysis is paused
 * (`execution.paused`), asked by the same people; 404 unknown, 409 finished, not paused, past the
 * pause's deadline or being cancelled. `executionIdOf(planId, revision, dryRun)` is the one id an
 * execution of a revision gets.
 *
 * Read helpers over a decided state: `quorumOf` (met, approvers, missing people and groups,
 * `breakGlassBy`), `describeMissing`, `approvalRequirement` (policy's requirement, defaulted for
 * old decisions), `approvalDeadline`, `approvalClosed`; `revisionDigest(plan.proposed payload)` and
 * `planRevisionDigest(steps)` for the digest itself.
 */
export * from "./digest.ts";
export * from "./execution.ts";
export * from "./plan.ts";
export * from "./workflow-kind.ts";
