//! The older processor's outputs in ../shared/fixtures/upstream reproduced (being built).
