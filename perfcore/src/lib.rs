//! perfcore: the engine of PerfAnalysis.
//!
//! Zero-copy parsers for Linux `/proc` files ([`parse`]), a live reader that
//! re-reads kept-open files, sysstat-compatible delta math, the capture
//! (NDJSON) format of the older collector, and the CSV formats.
//!
//! ```
//! let stat = perfcore::parse::stat::parse(b"cpu 10 0 5 85 0 0 0 0 0 0\nctxt 42\n")?;
//! assert_eq!(stat.cpu_total.map(|t| t.user), Some(10));
//! assert_eq!(stat.ctxt, Some(42));
//! # Ok::<(), perfcore::Error>(())
//! ```
#![warn(missing_docs)]

pub mod capture;
pub mod cgroup;
pub mod container;
pub mod csv;
pub mod error;
pub mod gofmt;
pub mod metrics;
pub mod parse;
pub mod process;
pub mod rates;
pub mod reader;
pub mod record;
pub mod snapshot;
pub mod spool;
pub mod stats;
pub mod time;

pub use error::{Error, Result};
pub use rates::{Break, Interval};
pub use snapshot::{RawSample, Snapshot, Source};
