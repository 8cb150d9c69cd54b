//! `vmstat` parser (in progress).
