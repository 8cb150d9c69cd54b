//! `perfan`: the PerfAnalysis command line.
fn main() {}
