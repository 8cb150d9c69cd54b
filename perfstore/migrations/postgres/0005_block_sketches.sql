-- PerfAnalysis store, PostgreSQL, migration 5. Never edit once released: add a new file.
--
-- Block sketches. Beside its sorted values, each metric block keeps their mean, their
-- sum of squared deviations from it, and a sketch: the values at positions 0, 64,
-- 128, ... and the last one. A summary reads the sketches, works out from them which
-- few slices of each block can hold its percentiles, and reads only those slices
-- (substring of the uncompressed, out-of-line values), instead of every value.
--
-- Blocks are a cache of the rows: the ones written before this migration have no
-- sketch, so they are dropped, and the next compaction (`perfan admin compact`)
-- builds them again. TRUNCATE, because row-level security would hide every row
-- from a DELETE run without a tenant.

TRUNCATE metric_blocks, block_spans;

-- One index, by span first: a summary fetches each slice by its whole key (and a
-- plan with a per-row probe of this key is the only one the planner can pick for
-- it, with or without statistics), and ingest and retention delete by span range.
ALTER TABLE metric_blocks
    DROP CONSTRAINT metric_blocks_pkey,
    ADD PRIMARY KEY (tenant_id, machine_id, last_ms, metric);
DROP INDEX metric_blocks_by_span;

ALTER TABLE metric_blocks
    ADD COLUMN value_mean DOUBLE PRECISION NOT NULL,
    ADD COLUMN value_m2 DOUBLE PRECISION NOT NULL,
    ADD COLUMN sketch BYTEA NOT NULL;
-- A sketch of a 16,384-row block is 2 KB: kept in the row (compressed if that helps),
-- so reading sketches is a heap scan, not a TOAST fetch per block.
ALTER TABLE metric_blocks ALTER COLUMN sketch SET STORAGE MAIN;
