//! The one error type of perfstore.

/// Result alias used throughout perfstore.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection URL is not one the store understands.
    #[error("database URL {url:?}: {message}")]
    Url {
        /// The URL as given (with any password removed).
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// The database answered with an error (or could not be reached).
    #[error("{context}: {source}")]
    Database {
        /// What the store was doing.
        context: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A bulk read of a SQLite file (on its own read-only connection) failed.
    #[error("{context}: {source}")]
    Read {
        /// What the store was reading.
        context: &'static str,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The schema in the database does not match this build's migrations.
    #[error("migration: {0}")]
    Migration(String),
    /// A batch was rejected whole because one row is invalid; nothing was written.
    #[error(
        "batch rejected, nothing stored: {what} {index} (timestamp {timestamp_ms} ms): {message}"
    )]
    BadRow {
        /// `row` for an interval row, `device row` for a per-device row.
        what: &'static str,
        /// 0-based index of the row in the batch.
        index: usize,
        /// Its timestamp.
        timestamp_ms: i64,
        /// What is wrong with it.
        message: String,
    },
    /// A named thing does not exist in the tenant.
    #[error("{what} not found: {name}")]
    NotFound {
        /// What was looked for (`tenant`, `machine`, `key`, ...).
        what: &'static str,
        /// Its name or id.
        name: String,
    },
    /// A thing with this name already exists.
    #[error("{what} already exists: {name}")]
    AlreadyExists {
        /// What was being created.
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// An argument is out of range or malformed (an empty name, zero points, ...).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// Hashing a password failed.
    #[error("password hashing: {0}")]
    PasswordHash(String),
    /// A stored JSON value does not decode.
    #[error("stored JSON in {what}: {source}")]
    Json {
        /// Which column.
        what: &'static str,
        /// The decoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// A background task (statistics on a worker thread) failed.
    #[error("worker task failed: {0}")]
    Task(String),
}

impl Error {
    /// Wraps a driver error with what the store was doing.
    pub(crate) fn db(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Error {
        let context = context.into();
        move |source| Error::Database { context, source }
    }

    /// True for a unique-constraint violation reported by either backend.
    pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
        match e {
            sqlx::Error::Database(d) => d.is_unique_violation(),
            _ => false,
        }
    }
}
