//! Integration tests of perfcore against the shared fixtures (one test binary).
#![allow(clippy::unwrap_used, missing_docs)]

mod corpus;
mod fuzz;
mod pcprocess_upstream;
mod rates;

/// The shared fixtures directory (`../shared/fixtures` beside the checkout).
pub fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures")
}
