//! `pressure` parser (in progress).
