//! The older collector's captures read and written back byte for byte: what
//! `perfan record --format pcc` writes is what the older tools wrote.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;

use perfcore::capture::{Sources, read_all, to_string};

fn upstream(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/upstream")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn every_upstream_capture_round_trips_byte_for_byte() {
    for rel in [
        "azure-b1s-ubuntu/pcc_collection.json",
        "azure-d4s-cpuinfo/loadtest-cpuinfo.json",
        "oci-e5-oraclelinux8/vm01_pcc_collection.json",
        "oci-e5-ubuntu24-containers/host_collection.json",
    ] {
        let bytes = upstream(rel);
        let samples = read_all(bytes.as_slice()).unwrap();
        assert!(samples.len() > 10, "{rel}: {}", samples.len());
        for sources in [Sources::All, Sources::PccOnly] {
            let out = to_string(&samples, sources);
            if out.as_bytes() != bytes.as_slice() {
                let at = out
                    .bytes()
                    .zip(bytes.iter())
                    .position(|(a, b)| a != *b)
                    .unwrap_or(out.len().min(bytes.len()));
                let lo = at.saturating_sub(80);
                panic!(
                    "{rel} ({sources:?}): differs at byte {at} of {}:\nours:  {:?}\ntheirs: {:?}",
                    bytes.len(),
                    String::from_utf8_lossy(&out.as_bytes()[lo..(at + 80).min(out.len())]),
                    String::from_utf8_lossy(&bytes[lo..(at + 80).min(bytes.len())]),
                );
            }
        }
    }
}
