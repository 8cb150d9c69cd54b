//! `cpuinfo` parser (in progress).
