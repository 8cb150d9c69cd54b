//! Python bindings for PerfAnalysis (not built yet).
#![warn(missing_docs)]
