-- Version 1: messages stored once, references by queue, bindings, and the
-- holder's epoch that fences every write.

CREATE TABLE junction_messages (
	id   bigint PRIMARY KEY,
	data bytea  NOT NULL
);

-- seq is the order references were added in: queues rebuild in that order.
CREATE TABLE junction_refs (
	queue_id       bigint NOT NULL,
	msg_id         bigint NOT NULL,
	seq            bigint NOT NULL,
	delivery_count bigint NOT NULL,
	scheduled_at   bigint NOT NULL,
	PRIMARY KEY (queue_id, msg_id)
);
CREATE INDEX junction_refs_seq ON junction_refs (seq);

-- Keys are bytes, not text: the core's keys are Go strings, which may hold
-- any byte (text refuses NUL and invalid UTF-8).
CREATE TABLE junction_bindings (
	kind smallint NOT NULL,
	key  bytea    NOT NULL,
	data bytea    NOT NULL,
	PRIMARY KEY (kind, key)
);

-- One row: the epoch of the broker that holds the store lock. A broker
-- taking the lock increments it; every write transaction checks, through
-- junction_fence, that it is still the one it took.
CREATE TABLE junction_holder (
	id       int PRIMARY KEY CHECK (id = 1),
	epoch    bigint NOT NULL,
	holder   text   NOT NULL,
	taken_at timestamptz
);
INSERT INTO junction_holder (id, epoch, holder) VALUES (1, 0, '');

-- FOR SHARE makes a takeover's UPDATE wait for a write transaction already
-- past its check, and makes a check that waited on a takeover see the new
-- epoch: a write commits either before the takeover or not at all.
CREATE FUNCTION junction_fence(want bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	cur bigint;
BEGIN
	SELECT epoch INTO cur FROM junction_holder WHERE id = 1 FOR SHARE;
	IF cur IS DISTINCT FROM want THEN
		RAISE EXCEPTION 'junction: fenced: the store lock was taken over (epoch % is now %)', want, cur
			USING ERRCODE = 'JF001';
	END IF;
END
$$;
