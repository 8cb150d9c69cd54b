//! The one error type of perfreport.

use std::path::PathBuf;

/// Result alias used throughout perfreport.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while building or writing a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// [`crate::build`] was given no machine at all.
    #[error("no machine to report on")]
    NoMachines,
    /// Drawing a chart failed (a plotters backend error).
    #[error("chart {chart}: {message}")]
    Chart {
        /// Which chart (`cpu`, `disk-util`, ...).
        chart: String,
        /// What went wrong.
        message: String,
    },
    /// Writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path being written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Encoding a PNG failed.
    #[error("{}: PNG encoding: {message}", path.display())]
    Png {
        /// The file being written.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Reading an input (capture or CSV) failed.
    #[error(transparent)]
    Core(#[from] perfcore::Error),
    /// An input could not be recognised or is inconsistent.
    #[error("input: {0}")]
    Input(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
