//! `statfs` parser (in progress).
