-- PerfAnalysis store, SQLite, migration 2. Never edit once released: add a new file.
--
-- Compacted blocks for summaries. A span is a run of consecutive interval rows of one
-- machine, [first_ms, last_ms] (at most 4,096 rows); metric_blocks holds, for every
-- metric with values in the span, those values sorted ascending (little-endian f64,
-- NaN left out). A summary reads whole spans from here and only the rows outside them
-- from interval_metrics. Ingest that stores a row inside a span, and retention that
-- deletes rows of one, delete the span in the same transaction.

CREATE TABLE block_spans (
    tenant_id INTEGER NOT NULL,
    machine_id INTEGER NOT NULL,
    last_ms INTEGER NOT NULL,
    first_ms INTEGER NOT NULL,
    row_count INTEGER NOT NULL CHECK (row_count > 0),
    PRIMARY KEY (tenant_id, machine_id, last_ms),
    FOREIGN KEY (tenant_id, machine_id) REFERENCES machines (tenant_id, id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE metric_blocks (
    tenant_id INTEGER NOT NULL,
    machine_id INTEGER NOT NULL,
    last_ms INTEGER NOT NULL,
    metric TEXT NOT NULL,
    first_ms INTEGER NOT NULL,
    value_count INTEGER NOT NULL,
    sorted_values BLOB NOT NULL,
    -- A summary reads one metric's blocks in time order; ingest and retention
    -- delete by span, through the second index.
    PRIMARY KEY (tenant_id, machine_id, metric, last_ms),
    FOREIGN KEY (tenant_id, machine_id) REFERENCES machines (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX metric_blocks_by_span ON metric_blocks (tenant_id, machine_id, last_ms);
