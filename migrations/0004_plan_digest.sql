-- The digest of a plan's current revision (sha256 of the RFC 8785 form of
-- its steps, lib/domain/digest.ts): what approvals bind to, shown by the API
-- and the CLI so that an approver approves what they saw. NULL before the
-- plan is proposed. Filled by the plans projection from plan.proposed.
ALTER TABLE plans ADD COLUMN IF NOT EXISTS digest text;
