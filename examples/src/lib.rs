//! Examples of the PerfAnalysis libraries; see `examples/README.md` and run them
//! with `cargo run -p perfanalysis-examples --example NAME`.
