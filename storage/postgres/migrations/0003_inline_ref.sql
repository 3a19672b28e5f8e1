-- Version 3: a message's first reference in the message's own row. Most
-- messages are stored for one queue and deleted with their only
-- reference: kept inline, such a message is one row written by one
-- statement and deleted by one, instead of a message row and a reference
-- row (two heap tuples, three index entries). ref_queue is NULL when the
-- row holds no live reference; the message's other references, and those
-- added to a message stored earlier, are rows of junction_refs as before.
-- ref_seq counts from the sequence of junction_refs.seq, so start-up merges
-- both into the order references were added.
--
-- Nullable columns without a default: adding them rewrites nothing, and a
-- schema-2 database keeps every reference in junction_refs, where this
-- version still reads, acknowledges and updates them.
ALTER TABLE junction_messages
	ADD COLUMN ref_queue bigint,
	ADD COLUMN ref_seq   bigint,
	ADD COLUMN ref_dc    bigint,
	ADD COLUMN ref_sched bigint;
