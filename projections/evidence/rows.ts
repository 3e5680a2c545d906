/**
 * Rows of the evidence read model, snake_case as in the tables and the API.
 * Timestamps are ISO 8601 strings, bigints are numbers (stream sequences
 * stay below 2^53).
 */

export interface EvidenceRow {
  evidence_id: string;
  owner_type: string;
  owner_id: string;
  kind: string;
  uri: string;
  sha256: string;
  size_bytes: number;
  content_type: string;
  redacted: boolean;
  created_at: string;
  last_seq: number;
}
