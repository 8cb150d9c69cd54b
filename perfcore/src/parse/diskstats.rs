//! `diskstats` parser (in progress).
