//! Integration tests of perfcore against the shared fixtures (one test binary).
#![allow(clippy::unwrap_used, missing_docs)]

mod containers;
mod corpus;
mod fuzz;
mod fuzz_more;
mod pcprocess_upstream;
mod rates;
mod rates_more;

/// The shared fixtures directory (`../shared/fixtures` beside the checkout).
pub fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures")
}

/// docs/csv-schema.md documents every column of the wide schema.
#[test]
fn csv_schema_doc_lists_every_metric() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/csv-schema.md"),
    )
    .unwrap();
    for m in perfcore::metrics::Metric::ALL {
        assert!(
            doc.contains(&format!("| `{}` |", m.name())),
            "{} missing",
            m.name()
        );
    }
}
