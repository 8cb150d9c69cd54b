-- PerfAnalysis store, PostgreSQL, migration 3. Never edit once released: add a new file.
--
-- Ingest by binary COPY straight into the table that holds the interval rows.
--
-- PostgreSQL refuses `COPY FROM` into a table under row-level security, so until now
-- ingest copied each batch into a temporary table and moved it with INSERT ... SELECT:
-- every row was parsed and inserted twice, and INSERT writes a WAL record per row where
-- COPY writes one per page. That held ingest to about 0.4x of a bare COPY.
--
-- interval_metrics becomes a partitioned table with one partition,
-- perfan_ingest.interval_metrics, which holds every row. Reads, retention and the
-- conflict-handling path still go through interval_metrics, under the same row-level
-- security as before. The partition itself has no policy, so a COPY can name it; in
-- its place it carries a CHECK that every row it receives belongs to the tenant of the
-- transaction's `app.tenant` setting (and no row when the setting is missing). A role
-- that may write to it can therefore add rows for its transaction's tenant only, as the
-- policy's WITH CHECK allows.
--
-- The partition lives in its own schema so that the usual
-- `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public` does not reach
-- it: reading it directly would bypass the policies. The application role gets INSERT
-- on it alone, from the operator:
--
--     GRANT USAGE ON SCHEMA perfan_ingest TO perfan_app;
--     GRANT INSERT ON perfan_ingest.interval_metrics TO perfan_app;
--
-- Without that grant the store keeps to the staging path (it checks at open).
-- Owner-run maintenance that inserts rows must set `app.tenant` like the application.

CREATE SCHEMA perfan_ingest;

ALTER TABLE interval_metrics RENAME TO interval_metrics_v1;
ALTER INDEX interval_metrics_pkey RENAME TO interval_metrics_v1_pkey;
-- FORCE would hide the rows from this migration's own role.
ALTER TABLE interval_metrics_v1 NO FORCE ROW LEVEL SECURITY;
ALTER TABLE interval_metrics_v1 DISABLE ROW LEVEL SECURITY;

CREATE TABLE interval_metrics (
    LIKE interval_metrics_v1 INCLUDING DEFAULTS,
    PRIMARY KEY (tenant_id, machine_id, ts_ms)
) PARTITION BY LIST (tenant_id);

CREATE TABLE perfan_ingest.interval_metrics PARTITION OF interval_metrics DEFAULT;

INSERT INTO interval_metrics SELECT * FROM interval_metrics_v1;

-- NOT VALID: the rows moved above carry no transaction tenant; every later row is checked.
ALTER TABLE perfan_ingest.interval_metrics
    ADD CONSTRAINT tenant_of_transaction
    CHECK ((tenant_id = perfan_current_tenant()) IS TRUE) NOT VALID;

ALTER TABLE interval_metrics ENABLE ROW LEVEL SECURITY;
ALTER TABLE interval_metrics FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON interval_metrics
    USING (tenant_id = (SELECT perfan_current_tenant()))
    WITH CHECK (tenant_id = (SELECT perfan_current_tenant()));

-- The new table keeps the privileges the old one had been granted.
DO $$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT a.grantee, a.privilege_type
        FROM pg_class c, aclexplode(c.relacl) a
        WHERE c.oid = 'interval_metrics_v1'::regclass AND a.grantee <> c.relowner
    LOOP
        EXECUTE format(
            'GRANT %s ON interval_metrics TO %s',
            g.privilege_type,
            CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END
        );
    END LOOP;
END
$$;

DROP TABLE interval_metrics_v1;
