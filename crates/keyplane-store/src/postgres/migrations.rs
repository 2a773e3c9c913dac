//! PostgreSQL schema migrations, compiled into the binary and applied on connect by sqlx's
//! migrator, under its advisory lock (nodes starting together apply them once). sqlx records
//! each applied migration in `_sqlx_migrations` with its version, its description and the
//! SHA-384 checksum of its text, and refuses to start when an applied migration's text no
//! longer matches its checksum.
//!
//! A migration is either one file or assembled: its own file followed by shared pieces, such as
//! the group-commit function, whose one live body is `functions/apply_operations.sql` and which
//! every migration that changes it ends with. An assembled migration's text changes whenever a
//! piece does, so it carries the checksum its text had when it was released: the one every
//! database that applied it has recorded, and the one a new database records too.

use std::borrow::Cow;

use keyplane_core::store::StoreError;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::PgPool;

/// One migration: its version and description (as sqlx derived them from the file name when
/// the migrations were a directory) and its text.
struct Step {
    version: i64,
    description: &'static str,
    text: Text,
}

/// The text of a migration.
enum Text {
    /// One file: its checksum is that of its text.
    Whole(&'static str),
    /// A file and shared pieces: `recorded` is the SHA-384 (hex) of its text as released.
    Assembled {
        sql: &'static str,
        recorded: &'static str,
    },
}

/// The migrations, in order.
const STEPS: &[Step] = &[
    Step {
        version: 1,
        description: "initial",
        text: Text::Whole(include_str!("../../migrations/postgres/0001_initial.sql")),
    },
    Step {
        version: 2,
        description: "settings",
        text: Text::Whole(include_str!("../../migrations/postgres/0002_settings.sql")),
    },
    Step {
        version: 3,
        description: "nonces",
        text: Text::Whole(include_str!("../../migrations/postgres/0003_nonces.sql")),
    },
    Step {
        version: 4,
        description: "use case functions",
        text: Text::Whole(include_str!(
            "../../migrations/postgres/0004_use_case_functions.sql"
        )),
    },
    Step {
        version: 5,
        description: "group commit",
        text: Text::Assembled {
            sql: concat!(
                include_str!("../../migrations/postgres/0005_group_commit.sql"),
                include_str!("../../migrations/postgres/functions/apply_operations.sql"),
            ),
            recorded: "a184ee55322f51b4d832b5e32448a9cc2b4e83e562b88618\
                       f55678f893539aaf75a445808de6a6c9d27ffd8a15ba1628",
        },
    },
    Step {
        version: 10,
        description: "activation codes",
        text: Text::Whole(include_str!(
            "../../migrations/postgres/0010_activation_codes.sql"
        )),
    },
    Step {
        version: 11,
        description: "eas",
        text: Text::Whole(include_str!("../../migrations/postgres/0011_eas.sql")),
    },
    Step {
        version: 12,
        description: "audit detail",
        text: Text::Whole(include_str!(
            "../../migrations/postgres/0012_audit_detail.sql"
        )),
    },
    Step {
        version: 13,
        description: "iam",
        text: Text::Assembled {
            sql: concat!(
                include_str!("../../migrations/postgres/0013_iam.sql"),
                include_str!("../../migrations/postgres/functions/apply_operations.sql"),
            ),
            recorded: "64b14bd1646277d6b2ab40f27185c0b5da54dd92c3f58454\
                       469e48f56538b216b2f86ef4c916ef9832a796ddd0ecbd0e",
        },
    },
    Step {
        version: 14,
        description: "audit prune",
        text: Text::Whole(include_str!(
            "../../migrations/postgres/0014_audit_prune.sql"
        )),
    },
];

/// The bytes a hex string spells (two digits a byte).
fn from_hex(hex: &str) -> Vec<u8> {
    let digits: Vec<u8> = hex
        .chars()
        .map(|digit| digit.to_digit(16).expect("a hex digit") as u8)
        .collect();
    digits
        .chunks(2)
        .map(|pair| pair[0] << 4 | pair[1])
        .collect()
}

impl Step {
    fn migration(&self) -> Migration {
        let (sql, recorded) = match self.text {
            Text::Whole(sql) => (sql, None),
            Text::Assembled { sql, recorded } => (sql, Some(recorded)),
        };
        let mut migration = Migration::new(
            self.version,
            Cow::Borrowed(self.description),
            MigrationType::Simple,
            Cow::Borrowed(sql),
            false,
        );
        if let Some(recorded) = recorded {
            migration.checksum = Cow::Owned(from_hex(recorded));
        }
        migration
    }
}

/// The migrator of every compiled-in migration.
fn migrator() -> Migrator {
    Migrator {
        migrations: Cow::Owned(STEPS.iter().map(Step::migration).collect()),
        ..Migrator::DEFAULT
    }
}

/// Applies the compiled-in migrations that `pool`'s database lacks, under sqlx's advisory lock.
pub(super) async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    migrator()
        .run(pool)
        .await
        .map_err(|error| StoreError::Backend(format!("migrating: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_recorded_checksums_are_sha384() {
        let migrator = migrator();
        let versions: Vec<i64> = migrator.iter().map(|migration| migration.version).collect();
        assert!(versions.windows(2).all(|pair| pair[0] < pair[1]));
        for migration in migrator.iter() {
            assert_eq!(migration.checksum.len(), 48, "{}", migration.version);
        }
    }

    #[test]
    fn hex_decodes() {
        assert_eq!(from_hex("00ff10a5"), vec![0x00, 0xff, 0x10, 0xa5]);
    }
}
