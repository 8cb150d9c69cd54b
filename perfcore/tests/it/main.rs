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

/// The wide header is the three fixed columns, then the metric columns in the
/// order docs/csv-schema.md lists them: a reordering is a schema change and
/// must show up here and in the document.
#[test]
fn wide_header_is_the_documented_column_order() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/csv-schema.md"),
    )
    .unwrap();
    let wide = doc
        .split("### Wide file")
        .nth(1)
        .and_then(|s| s.split("### Long file").next())
        .unwrap();
    let documented: Vec<&str> = wide
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    let header = perfcore::csv::ours::wide_header();
    assert_eq!(header.split(',').collect::<Vec<_>>(), documented);
    assert!(header.starts_with("timestamp,machine_id,interval_s,cpu_user_pct,"));
    assert_eq!(documented.len(), 3 + perfcore::metrics::METRIC_COUNT);
}
