//! perfreport's integration tests: one binary, a module per concern.
//!
//! ```sh
//! cargo test -p perfreport --test it
//! ```

mod edge;
mod findings;
mod fixtures;
mod output;
mod series;
