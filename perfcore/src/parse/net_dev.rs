//! `net_dev` parser (in progress).
