-- PerfAnalysis store, PostgreSQL, migration 4. Never edit once released: add a new file.
--
-- Compacted blocks for summaries. A span is a run of consecutive interval rows of one
-- machine, [first_ms, last_ms] (at most 4,096 rows); metric_blocks holds, for every
-- metric with values in the span, those values sorted ascending (little-endian float8,
-- NaN left out). A summary reads whole spans from here and only the rows outside them
-- from interval_metrics. Ingest that stores a row inside a span, and retention that
-- deletes rows of one, delete the span in the same transaction; compaction and ingest
-- of one machine are serialised by the lock on its machines row.
--
-- Both tables are under the same row-level security as the rest, and receive the
-- privileges interval_metrics has been granted.

CREATE TABLE block_spans (
    tenant_id BIGINT NOT NULL,
    machine_id BIGINT NOT NULL,
    last_ms BIGINT NOT NULL,
    first_ms BIGINT NOT NULL,
    row_count INTEGER NOT NULL CHECK (row_count > 0),
    PRIMARY KEY (tenant_id, machine_id, last_ms),
    FOREIGN KEY (tenant_id, machine_id) REFERENCES machines (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE metric_blocks (
    tenant_id BIGINT NOT NULL,
    machine_id BIGINT NOT NULL,
    last_ms BIGINT NOT NULL,
    metric TEXT NOT NULL,
    first_ms BIGINT NOT NULL,
    value_count INTEGER NOT NULL,
    sorted_values BYTEA NOT NULL,
    -- A summary reads one metric's blocks in time order; ingest and retention
    -- delete by span, through the second index.
    PRIMARY KEY (tenant_id, machine_id, metric, last_ms),
    FOREIGN KEY (tenant_id, machine_id) REFERENCES machines (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX metric_blocks_by_span ON metric_blocks (tenant_id, machine_id, last_ms);
-- The values are packed and sorted already; pglz would find little to gain.
ALTER TABLE metric_blocks ALTER COLUMN sorted_values SET STORAGE EXTERNAL;

ALTER TABLE block_spans ENABLE ROW LEVEL SECURITY;
ALTER TABLE block_spans FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON block_spans
    USING (tenant_id = (SELECT perfan_current_tenant()))
    WITH CHECK (tenant_id = (SELECT perfan_current_tenant()));

ALTER TABLE metric_blocks ENABLE ROW LEVEL SECURITY;
ALTER TABLE metric_blocks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON metric_blocks
    USING (tenant_id = (SELECT perfan_current_tenant()))
    WITH CHECK (tenant_id = (SELECT perfan_current_tenant()));

DO $$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT a.grantee, a.privilege_type
        FROM pg_class c, aclexplode(c.relacl) a
        WHERE c.oid = 'public.interval_metrics'::regclass AND a.grantee <> c.relowner
          AND a.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')
    LOOP
        EXECUTE format(
            'GRANT %s ON block_spans, metric_blocks TO %s',
            g.privilege_type,
            CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END
        );
    END LOOP;
END
$$;
