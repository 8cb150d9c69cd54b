-- PerfAnalysis store, PostgreSQL, migration 1. Never edit once released: add a new file.
--
-- Every tenant-scoped table carries tenant_id and a row-level security policy that
-- compares it with the transaction's `app.tenant` setting (set_config(..., true)).
-- An unset or empty setting matches no row: forgetting it returns nothing.
-- FORCE makes the policies apply to the table owner too; superusers and roles with
-- BYPASSRLS still bypass them, so the application connects as a plain role.
-- The policies call the function through a scalar subquery: it becomes an InitPlan,
-- evaluated once per statement instead of once per row (a 1,000,000-row insert or
-- scan would otherwise read the setting and parse it a million times).

CREATE FUNCTION perfan_current_tenant() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.tenant', true), '')::bigint $$;

-- The tenant directory (no tenant of its own: looked up by name before a tenant is known).
CREATE TABLE tenants (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    retention_days INTEGER CHECK (retention_days > 0),
    created_ms BIGINT NOT NULL
);

CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'viewer')),
    created_ms BIGINT NOT NULL,
    UNIQUE (tenant_id, email)
);

CREATE TABLE machines (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    machine_key TEXT NOT NULL,
    hostname TEXT,
    labels JSONB NOT NULL DEFAULT '{}',
    facts JSONB NOT NULL DEFAULT '{}',
    first_seen_ms BIGINT NOT NULL,
    last_seen_ms BIGINT,
    -- Bit i set once metric i (Metric::ALL order) has had a value: reads skip the rest.
    metric_mask BIGINT NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, machine_key),
    UNIQUE (tenant_id, id)
);

CREATE TABLE api_keys (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    machine_id BIGINT,
    prefix TEXT NOT NULL UNIQUE,
    secret_hash BYTEA NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    created_ms BIGINT NOT NULL,
    last_used_ms BIGINT,
    revoked_ms BIGINT,
    FOREIGN KEY (tenant_id, machine_id) REFERENCES machines (tenant_id, id) ON DELETE CASCADE
);

-- Which tenant a key prefix belongs to: lets a request authenticate before its tenant
-- is known. Holds no secret (the hashes stay behind row-level security in api_keys).
CREATE TABLE api_key_directory (
    prefix TEXT PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE
);

-- One wide row per machine and interval end. No foreign key: a per-row trigger would
-- halve ingest speed; ingest checks the machine once per batch instead.
CREATE TABLE interval_metrics (
    tenant_id BIGINT NOT NULL,
    machine_id BIGINT NOT NULL,
    ts_ms BIGINT NOT NULL,
    interval_s DOUBLE PRECISION NOT NULL,
    cpu_user_pct DOUBLE PRECISION,
    cpu_nice_pct DOUBLE PRECISION,
    cpu_system_pct DOUBLE PRECISION,
    cpu_iowait_pct DOUBLE PRECISION,
    cpu_irq_pct DOUBLE PRECISION,
    cpu_softirq_pct DOUBLE PRECISION,
    cpu_steal_pct DOUBLE PRECISION,
    cpu_guest_pct DOUBLE PRECISION,
    cpu_idle_pct DOUBLE PRECISION,
    cpu_count DOUBLE PRECISION,
    context_switches_per_s DOUBLE PRECISION,
    interrupts_per_s DOUBLE PRECISION,
    forks_per_s DOUBLE PRECISION,
    procs_running DOUBLE PRECISION,
    procs_blocked DOUBLE PRECISION,
    load1 DOUBLE PRECISION,
    load5 DOUBLE PRECISION,
    load15 DOUBLE PRECISION,
    mem_total_bytes DOUBLE PRECISION,
    mem_free_bytes DOUBLE PRECISION,
    mem_available_bytes DOUBLE PRECISION,
    mem_used_bytes DOUBLE PRECISION,
    mem_used_pct DOUBLE PRECISION,
    mem_buffers_bytes DOUBLE PRECISION,
    mem_cached_bytes DOUBLE PRECISION,
    mem_slab_bytes DOUBLE PRECISION,
    mem_dirty_bytes DOUBLE PRECISION,
    mem_committed_bytes DOUBLE PRECISION,
    mem_commit_pct DOUBLE PRECISION,
    swap_total_bytes DOUBLE PRECISION,
    swap_used_bytes DOUBLE PRECISION,
    swap_used_pct DOUBLE PRECISION,
    page_in_bytes_per_s DOUBLE PRECISION,
    page_out_bytes_per_s DOUBLE PRECISION,
    page_faults_per_s DOUBLE PRECISION,
    major_faults_per_s DOUBLE PRECISION,
    swap_in_pages_per_s DOUBLE PRECISION,
    swap_out_pages_per_s DOUBLE PRECISION,
    disk_reads_per_s DOUBLE PRECISION,
    disk_writes_per_s DOUBLE PRECISION,
    disk_read_bytes_per_s DOUBLE PRECISION,
    disk_write_bytes_per_s DOUBLE PRECISION,
    disk_await_ms DOUBLE PRECISION,
    disk_util_max_pct DOUBLE PRECISION,
    net_rx_bytes_per_s DOUBLE PRECISION,
    net_tx_bytes_per_s DOUBLE PRECISION,
    net_rx_packets_per_s DOUBLE PRECISION,
    net_tx_packets_per_s DOUBLE PRECISION,
    net_errors_per_s DOUBLE PRECISION,
    net_drops_per_s DOUBLE PRECISION,
    psi_cpu_some_pct DOUBLE PRECISION,
    psi_memory_some_pct DOUBLE PRECISION,
    psi_memory_full_pct DOUBLE PRECISION,
    psi_io_some_pct DOUBLE PRECISION,
    psi_io_full_pct DOUBLE PRECISION,
    fs_max_used_pct DOUBLE PRECISION,
    PRIMARY KEY (tenant_id, machine_id, ts_ms)
);

CREATE TABLE device_series (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id BIGINT NOT NULL,
    machine_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    device TEXT NOT NULL,
    metric TEXT NOT NULL,
    UNIQUE (tenant_id, machine_id, kind, device, metric),
    FOREIGN KEY (tenant_id, machine_id) REFERENCES machines (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE device_values (
    tenant_id BIGINT NOT NULL,
    series_id BIGINT NOT NULL,
    ts_ms BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant_id, series_id, ts_ms)
);

CREATE TABLE uploads (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    machine_id BIGINT,
    key_id BIGINT,
    source TEXT NOT NULL,
    format TEXT NOT NULL,
    rows_stored BIGINT NOT NULL,
    rows_present BIGINT NOT NULL,
    first_ts_ms BIGINT,
    last_ts_ms BIGINT,
    created_ms BIGINT NOT NULL
);
CREATE INDEX uploads_tenant_created ON uploads (tenant_id, created_ms);

CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at_ms);

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
    USING (tenant_id = (SELECT perfan_current_tenant()))
    WITH CHECK (tenant_id = (SELECT perfan_current_tenant()));

ALTER TABLE machines ENABLE ROW LEVEL SECURITY;
ALTER TABLE machines FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON machines
    USING (tenant_id = (SELECT perfan_current_tenant()))
    WITH CHECK (tenant_id = (SELECT perfan_current_tenant()));

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys
    USING (tenant_id = (SELECT perfan_current_tenant()))
    WITH CHECK (tenant_id = (SELECT perfan_current_tenant()));

ALTER TABLE interval_metrics ENABLE ROW LEVEL SECURITY;
ALTER TABLE interval_metrics FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON interval_metrics
    USING (tenant_id = (SELECT perfan_current_tenant()))
    WITH CHECK (tenant_id = (SELECT perfan_current_tenant()));

ALTER TABLE device_series ENABLE ROW LEVEL SECURITY;
ALTER TABLE device_series FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON device_series
    USING (tenant_id = (SELECT perfan_current_tenant()))
    WITH CHECK (tenant_id = (SELECT perfan_current_tenant()));

ALTER TABLE device_values ENABLE ROW LEVEL SECURITY;
ALTER TABLE device_values FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON device_values
    USING (tenant_id = (SELECT perfan_current_tenant()))
    WITH CHECK (tenant_id = (SELECT perfan_current_tenant()));

ALTER TABLE uploads ENABLE ROW LEVEL SECURITY;
ALTER TABLE uploads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON uploads
    USING (tenant_id = (SELECT perfan_current_tenant()))
    WITH CHECK (tenant_id = (SELECT perfan_current_tenant()));

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log
    USING (tenant_id = (SELECT perfan_current_tenant()))
    WITH CHECK (tenant_id = (SELECT perfan_current_tenant()));
