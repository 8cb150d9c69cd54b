//! `loadavg` parser (in progress).
