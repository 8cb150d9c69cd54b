//! perfan-server: REST API and web dashboard (not built yet).
#![warn(missing_docs)]
