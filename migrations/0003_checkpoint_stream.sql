-- A checkpoint is a position in one particular events stream. A stream
-- deleted and created again under the same name (`.data/` removed, a fresh
-- server) numbers its events from 1 again, so a checkpoint kept from the old
-- one would skip the new one's first events. Each checkpoint therefore
-- records the identity of the stream it counts in (the stream's
-- `wheelhouse_stream_id` metadata, lib/eventstore/streams.ts); the projector
-- compares it with the stream's on start and refuses, or rebuilds, on a
-- mismatch. NULL: not bound yet (a new checkpoint at 0, or one kept from
-- before this migration), adopted by the projector's next start.
ALTER TABLE projection_checkpoints ADD COLUMN IF NOT EXISTS stream_id text;
