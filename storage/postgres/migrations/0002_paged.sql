-- Version 2: paged references (storage.Pager), for queues larger than
-- memory. A paged reference is a message and its reference to one queue
-- in one row, which the broker does not hold in memory until it reads it
-- back (ReadPaged) and pages it in.
--
-- pos comes from the same sequence as junction_refs.seq (the store assigns
-- both), so a paged reference and an ordinary one compare by when they were
-- added. Paging in does not move the row: junction_paged_queues.mark says
-- that every row of the queue at or before it is paged in (the broker pages
-- in in order, and drops what it skips), and such a row is from then on an
-- ordinary message (data) with, while ref_live, its reference to queue_id.
-- Deleting that message deletes the row. So a paged message is written once
-- and deleted once, however it leaves.
CREATE TABLE junction_paged (
	queue_id       bigint  NOT NULL,
	pos            bigint  NOT NULL,
	msg_id         bigint  NOT NULL,
	delivery_count bigint  NOT NULL,
	scheduled_at   bigint  NOT NULL,
	ref_live       boolean NOT NULL DEFAULT true,
	size           int     NOT NULL,
	data           bytea   NOT NULL,
	PRIMARY KEY (queue_id, pos)
);

-- One row per queue that ever paged: the paged-in mark, the highest
-- position ever given (positions never go back, even once every row is
-- gone), and the count and bytes of the rows after the mark, kept by the
-- writes themselves so that start-up reads this table, not the rows.
CREATE TABLE junction_paged_queues (
	queue_id bigint PRIMARY KEY,
	mark     bigint NOT NULL DEFAULT 0,
	maxpos   bigint NOT NULL DEFAULT 0,
	count    bigint NOT NULL DEFAULT 0,
	bytes    bigint NOT NULL DEFAULT 0
);
