//! The typed values the store takes and returns.

use std::collections::BTreeMap;
use std::fmt;

use perfcore::metrics::{DeviceKind, MachineFacts};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id_type!(
    /// A tenant's internal id. Every read and write of the store names one.
    TenantId
);
id_type!(
    /// A machine's internal numeric id (unique in the whole store; queries also check
    /// that it belongs to the tenant they name).
    MachineId
);
id_type!(
    /// A user's id.
    UserId
);
id_type!(
    /// An API key's id (not secret; shown by `key list`, used by `key revoke`).
    KeyId
);

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A tenant: one customer or team, whose data no other tenant can reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// Its unique name.
    pub name: String,
    /// Days of data kept by [`Store::apply_configured_retention`](crate::Store::apply_configured_retention);
    /// `None` keeps everything.
    pub retention_days: Option<u32>,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
}

/// Free-form labels of a machine (`env=prod`, `rack=b4`).
pub type Labels = BTreeMap<String, String>;

/// A machine of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Machine {
    /// Internal id.
    pub id: MachineId,
    /// The tenant it belongs to.
    pub tenant: TenantId,
    /// Its stable id string, unique in the tenant (the agent's `/etc/machine-id` or a
    /// name chosen at import).
    pub machine_key: String,
    /// Host name, when known.
    pub hostname: Option<String>,
    /// Labels.
    pub labels: Labels,
    /// Facts gathered from its samples.
    pub facts: MachineFacts,
    /// When the store first heard of it, ms since the epoch.
    pub first_seen_ms: i64,
    /// Timestamp of its newest stored interval, ms since the epoch.
    pub last_seen_ms: Option<i64>,
}

/// What an ingest stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct IngestReport {
    /// Interval rows written.
    pub stored: u64,
    /// Interval rows skipped because the machine already had a row at that timestamp
    /// (including repeats within the batch).
    pub already_present: u64,
    /// Per-device values written.
    pub devices_stored: u64,
    /// Per-device values already present.
    pub devices_already_present: u64,
}

impl IngestReport {
    /// Adds another report's counts to this one.
    pub fn add(&mut self, other: &IngestReport) {
        self.stored += other.stored;
        self.already_present += other.already_present;
        self.devices_stored += other.devices_stored;
        self.devices_already_present += other.devices_already_present;
    }
}

/// One value of one device, as read back from the store.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DeviceSample {
    /// End of the interval, ms since the epoch.
    pub timestamp_ms: i64,
    /// CPU, disk, interface or filesystem.
    pub kind: DeviceKind,
    /// Its name (`3`, `sda`, `eth0`, `/var`).
    pub device: String,
    /// Metric name, units in the name (`util_pct`).
    pub metric: String,
    /// The value.
    pub value: f64,
}

/// One bucket of a downsampled series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Bucket {
    /// Start of the bucket, ms since the epoch (buckets are `[start, start + width)`).
    pub start_ms: i64,
    /// Smallest value in the bucket.
    pub min: f64,
    /// Mean of the values in the bucket.
    pub avg: f64,
    /// Largest value in the bucket.
    pub max: f64,
    /// Number of values in the bucket.
    pub count: u64,
}

/// Values of some metrics over a time range, one vector per metric, aligned with
/// `timestamps_ms` (`None` where the row had no value).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Columns {
    /// Row timestamps, ascending.
    pub timestamps_ms: Vec<i64>,
    /// One column per requested metric, in request order.
    pub values: Vec<Vec<Option<f64>>>,
}

/// A user's role in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything in the tenant: users, keys, machines, data.
    Admin,
    /// Reads data and makes reports; uploads.
    Analyst,
    /// Reads data.
    Viewer,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Viewer => "viewer",
        }
    }

    /// The role with this name.
    pub fn from_name(s: &str) -> Result<Role> {
        match s {
            "admin" => Ok(Role::Admin),
            "analyst" => Ok(Role::Analyst),
            "viewer" => Ok(Role::Viewer),
            _ => Err(Error::Invalid(format!(
                "unknown role {s:?} (admin, analyst or viewer)"
            ))),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user of a tenant (never with its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// The tenant.
    pub tenant: TenantId,
    /// E-mail address, unique in the tenant.
    pub email: String,
    /// Role in the tenant.
    pub role: Role,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
}

/// A key just created: the only time its secret is known.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewKey {
    /// Its id.
    pub id: KeyId,
    /// The visible prefix (`pfa_1a2b3c4d`), stored in clear to tell keys apart.
    pub prefix: String,
    /// The whole key, to hand to the agent. Not stored: only its SHA-256 is.
    pub secret: String,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("id", &self.id)
            .field("prefix", &self.prefix)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What the store knows of a key (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct KeyInfo {
    /// Its id.
    pub id: KeyId,
    /// The tenant.
    pub tenant: TenantId,
    /// The machine it is limited to, if any.
    pub machine: Option<MachineId>,
    /// The visible prefix.
    pub prefix: String,
    /// Label given at creation.
    pub label: String,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// Last successful use, ms since the epoch.
    pub last_used_ms: Option<i64>,
    /// Revocation time, ms since the epoch.
    pub revoked_ms: Option<i64>,
}

/// Who a valid key speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct KeyAuth {
    /// The key's tenant.
    pub tenant: TenantId,
    /// The machine the key is limited to, if any.
    pub machine: Option<MachineId>,
    /// The key.
    pub key: KeyId,
}

/// One upload to record (a file imported, a request of an agent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NewUpload {
    /// The machine the data belongs to.
    pub machine: Option<MachineId>,
    /// The key that sent it, if any.
    pub key: Option<KeyId>,
    /// Where it came from (a file name, `trickle`, ...).
    pub source: String,
    /// Its format (`capture`, `csv`, `portal`, ...).
    pub format: String,
    /// What the ingest stored.
    pub rows_stored: u64,
    /// What was already there.
    pub rows_present: u64,
    /// First and last row timestamp, ms since the epoch.
    pub time_range_ms: Option<(i64, i64)>,
}

impl NewUpload {
    /// An upload of `format` data from `source`.
    pub fn new(source: impl Into<String>, format: impl Into<String>) -> Self {
        NewUpload {
            source: source.into(),
            format: format.into(),
            ..NewUpload::default()
        }
    }
}

/// A recorded upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Upload {
    /// Its id.
    pub id: i64,
    /// What was recorded.
    pub upload: NewUpload,
    /// When, ms since the epoch.
    pub created_ms: i64,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AuditEntry {
    /// Its id.
    pub id: i64,
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// Who (`cli:root`, `user:3`, `key:7`).
    pub actor: String,
    /// What (`key.create`, `upload`, `export`, ...).
    pub action: String,
    /// Details.
    pub detail: serde_json::Value,
}

/// What a retention run deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RetentionReport {
    /// Interval rows deleted.
    pub rows_deleted: u64,
    /// Per-device values deleted.
    pub device_values_deleted: u64,
}

/// What a compaction wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CompactReport {
    /// Spans (blocks of consecutive rows) written.
    pub blocks: u64,
    /// Interval rows those spans cover.
    pub rows: u64,
}

/// Current time, ms since the epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
