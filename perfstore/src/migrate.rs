//! Numbered, forward-only migrations, one list per backend, applied on open.
//!
//! Each applied migration is recorded with a checksum of its text; a database that
//! holds a migration whose text differs from this build's (an edited migration) or a
//! version this build does not know (a newer perfan wrote it) is refused rather than
//! guessed at.

use sha2::{Digest, Sha256};

/// One migration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// Its number; applied in ascending order.
    pub version: i64,
    /// A short name.
    pub name: &'static str,
    /// The SQL script.
    pub sql: &'static str,
}

impl Migration {
    /// SHA-256 of the script, hex.
    pub fn checksum(&self) -> String {
        Sha256::digest(self.sql.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The SQLite migrations.
pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "summary_blocks",
        sql: include_str!("../migrations/sqlite/0002_summary_blocks.sql"),
    },
];

/// The PostgreSQL migrations.
pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "directory_rls",
        sql: include_str!("../migrations/postgres/0002_directory_rls.sql"),
    },
    Migration {
        version: 3,
        name: "ingest_partition",
        sql: include_str!("../migrations/postgres/0003_ingest_partition.sql"),
    },
    Migration {
        version: 4,
        name: "summary_blocks",
        sql: include_str!("../migrations/postgres/0004_summary_blocks.sql"),
    },
    Migration {
        version: 5,
        name: "block_sketches",
        sql: include_str!("../migrations/postgres/0005_block_sketches.sql"),
    },
];

/// The table that records applied migrations.
pub(crate) const TABLE: &str = "perfan_schema_migrations";

/// Checks what the database holds against `known`; returns the migrations to apply.
pub(crate) fn plan(
    known: &'static [Migration],
    applied: &[(i64, String)],
) -> crate::Result<Vec<Migration>> {
    for (version, checksum) in applied {
        match known.iter().find(|m| m.version == *version) {
            None => {
                return Err(crate::Error::Migration(format!(
                    "the database has schema version {version}, newer than this build knows \
                     (up to {}): upgrade perfan",
                    known.last().map(|m| m.version).unwrap_or(0)
                )));
            }
            Some(m) if m.checksum() != *checksum => {
                return Err(crate::Error::Migration(format!(
                    "migration {version} ({}) in the database differs from this build's: \
                     migrations must never be edited once released",
                    m.name
                )));
            }
            Some(_) => {}
        }
    }
    Ok(known
        .iter()
        .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
        .copied()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_missing_and_refuses_edits_and_newer() {
        assert_eq!(plan(SQLITE, &[]).unwrap().len(), SQLITE.len());
        let all: Vec<(i64, String)> = SQLITE.iter().map(|m| (m.version, m.checksum())).collect();
        assert!(plan(SQLITE, &all).unwrap().is_empty());
        let edited = vec![(1, "0".repeat(64))];
        assert!(
            plan(SQLITE, &edited)
                .unwrap_err()
                .to_string()
                .contains("never be edited")
        );
        let newer = vec![(999, String::new())];
        assert!(
            plan(POSTGRES, &newer)
                .unwrap_err()
                .to_string()
                .contains("newer")
        );
    }

    #[test]
    fn versions_ascend() {
        for list in [SQLITE, POSTGRES] {
            assert!(list.windows(2).all(|w| w[0].version < w[1].version));
        }
    }
}
