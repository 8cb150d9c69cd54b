//! `meminfo` parser (in progress).
