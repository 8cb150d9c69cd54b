//! The one error type of perfcore.

use std::path::PathBuf;

/// `line N: `, or nothing for line 0 (an empty file has no line to name).
fn line_prefix(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!("line {line}: ")
    }
}

/// Result alias used throughout perfcore.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in perfcore: parsing, reading, capture and CSV handling.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A kernel file's text does not have the expected shape.
    #[error("{file}: {}{message}", line_prefix(*.line))]
    Parse {
        /// Which file was being parsed, e.g. `/proc/stat`.
        file: &'static str,
        /// 1-based line number of the offending line (0 when the file is empty).
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// Reading a file or directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path being read or written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A capture (NDJSON) record is malformed.
    #[error("capture line {line}: {message}")]
    Capture {
        /// 1-based line number in the capture.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A CSV file is malformed.
    #[error("CSV line {line}, column {column}: {message}")]
    Csv {
        /// 1-based line number (the header is line 1).
        line: u64,
        /// Column name (or 1-based index when no header names it).
        column: String,
        /// What is wrong with it.
        message: String,
    },
    /// A duration (`--interval`, `PCC_FREQUENCY`) is not valid.
    #[error("duration {input:?}: {message}")]
    Duration {
        /// The text given.
        input: String,
        /// What is wrong with it.
        message: String,
    },
    /// A spool directory is unusable (locked by another agent, bad batch file, ...).
    #[error("spool {}: {message}", path.display())]
    Spool {
        /// The spool directory or batch file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Two samples cannot form an interval (different boots, out of order, ...).
    #[error("interval: {0}")]
    Interval(String),
}

impl Error {
    /// Builds a [`Error::Parse`] for `file` at 1-based `line`.
    pub fn parse(file: &'static str, line: usize, message: impl Into<String>) -> Self {
        Error::Parse {
            file,
            line,
            message: message.into(),
        }
    }

    /// Builds a [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
