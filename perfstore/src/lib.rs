//! perfstore: storage on SQLite and PostgreSQL (not built yet: issue 3).
#![warn(missing_docs)]
