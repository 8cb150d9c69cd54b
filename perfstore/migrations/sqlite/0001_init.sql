-- PerfAnalysis store, SQLite, migration 1. Never edit once released: add a new file.
-- Same tables as on PostgreSQL; tenant isolation is by the tenant_id every query names.

CREATE TABLE tenants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    retention_days INTEGER CHECK (retention_days > 0),
    created_ms INTEGER NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'viewer')),
    created_ms INTEGER NOT NULL,
    UNIQUE (tenant_id, email)
);

CREATE TABLE machines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    machine_key TEXT NOT NULL,
    hostname TEXT,
    labels TEXT NOT NULL DEFAULT '{}',
    facts TEXT NOT NULL DEFAULT '{}',
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER,
    -- Bit i set once metric i (Metric::ALL order) has had a value: reads skip the rest.
    metric_mask INTEGER NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, machine_key),
    UNIQUE (tenant_id, id)
);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    machine_id INTEGER,
    prefix TEXT NOT NULL UNIQUE,
    secret_hash BLOB NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    last_used_ms INTEGER,
    revoked_ms INTEGER,
    FOREIGN KEY (tenant_id, machine_id) REFERENCES machines (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE api_key_directory (
    prefix TEXT PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE
);

CREATE TABLE interval_metrics (
    tenant_id INTEGER NOT NULL,
    machine_id INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    interval_s REAL NOT NULL,
    cpu_user_pct REAL,
    cpu_nice_pct REAL,
    cpu_system_pct REAL,
    cpu_iowait_pct REAL,
    cpu_irq_pct REAL,
    cpu_softirq_pct REAL,
    cpu_steal_pct REAL,
    cpu_guest_pct REAL,
    cpu_idle_pct REAL,
    cpu_count REAL,
    context_switches_per_s REAL,
    interrupts_per_s REAL,
    forks_per_s REAL,
    procs_running REAL,
    procs_blocked REAL,
    load1 REAL,
    load5 REAL,
    load15 REAL,
    mem_total_bytes REAL,
    mem_free_bytes REAL,
    mem_available_bytes REAL,
    mem_used_bytes REAL,
    mem_used_pct REAL,
    mem_buffers_bytes REAL,
    mem_cached_bytes REAL,
    mem_slab_bytes REAL,
    mem_dirty_bytes REAL,
    mem_committed_bytes REAL,
    mem_commit_pct REAL,
    swap_total_bytes REAL,
    swap_used_bytes REAL,
    swap_used_pct REAL,
    page_in_bytes_per_s REAL,
    page_out_bytes_per_s REAL,
    page_faults_per_s REAL,
    major_faults_per_s REAL,
    swap_in_pages_per_s REAL,
    swap_out_pages_per_s REAL,
    disk_reads_per_s REAL,
    disk_writes_per_s REAL,
    disk_read_bytes_per_s REAL,
    disk_write_bytes_per_s REAL,
    disk_await_ms REAL,
    disk_util_max_pct REAL,
    net_rx_bytes_per_s REAL,
    net_tx_bytes_per_s REAL,
    net_rx_packets_per_s REAL,
    net_tx_packets_per_s REAL,
    net_errors_per_s REAL,
    net_drops_per_s REAL,
    psi_cpu_some_pct REAL,
    psi_memory_some_pct REAL,
    psi_memory_full_pct REAL,
    psi_io_some_pct REAL,
    psi_io_full_pct REAL,
    fs_max_used_pct REAL,
    PRIMARY KEY (tenant_id, machine_id, ts_ms)
) WITHOUT ROWID;

CREATE TABLE device_series (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL,
    machine_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    device TEXT NOT NULL,
    metric TEXT NOT NULL,
    UNIQUE (tenant_id, machine_id, kind, device, metric),
    FOREIGN KEY (tenant_id, machine_id) REFERENCES machines (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE device_values (
    tenant_id INTEGER NOT NULL,
    series_id INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (tenant_id, series_id, ts_ms)
) WITHOUT ROWID;

CREATE TABLE uploads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    machine_id INTEGER,
    key_id INTEGER,
    source TEXT NOT NULL,
    format TEXT NOT NULL,
    rows_stored INTEGER NOT NULL,
    rows_present INTEGER NOT NULL,
    first_ts_ms INTEGER,
    last_ts_ms INTEGER,
    created_ms INTEGER NOT NULL
);
CREATE INDEX uploads_tenant_created ON uploads (tenant_id, created_ms);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at_ms);
