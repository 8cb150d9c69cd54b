//! perfreport: statistics, findings, charts and HTML reports (not built yet: issue 5).
#![warn(missing_docs)]
