//! Kring's own sqlite database (sqlx), next to the SDK's stores: settings,
//! the audit log, and later the client↔space links and the directory cache.
//! The schema evolves only through the migrations in `migrations/`.

use std::{path::Path, str::FromStr, time::SystemTime};

use serde::Serialize;
use sqlx::{
    Row, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions},
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database: {0}")]
    Open(String),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
}

/// The client (patient) a care-team space is about, as known on this device.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct ClientLink {
    pub space_id: String,
    pub display_name: String,
    pub pseudo_bsn: String,
}

impl std::fmt::Debug for ClientLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Patient identifiers stay out of logs and panic messages.
        f.debug_struct("ClientLink").field("space_id", &self.space_id).finish_non_exhaustive()
    }
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Open(e.to_string()))?;
        }
        let url = format!("sqlite://{}", path.display());
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Open(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Open(e.to_string()))?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get::<String, _>(0)))
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO settings(key, value) VALUES (?, ?) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn audit(&self, actor: &str, action: &str, subject: Option<&str>) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO audit_log(at_ms, actor, action, subject) VALUES (?, ?, ?, ?)")
            .bind(now_ms())
            .bind(actor)
            .bind(action)
            .bind(subject)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records (or updates) which client a care-team space is about.
    pub async fn link_client_space(&self, link: &ClientLink) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO client_spaces(space_id, display_name, pseudo_bsn, linked_at_ms) VALUES (?, ?, ?, ?) \
             ON CONFLICT(space_id) DO UPDATE SET display_name = excluded.display_name, pseudo_bsn = excluded.pseudo_bsn",
        )
        .bind(&link.space_id)
        .bind(&link.display_name)
        .bind(&link.pseudo_bsn)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn client_for_space(&self, space_id: &str) -> Result<Option<ClientLink>, StoreError> {
        let row = sqlx::query("SELECT space_id, display_name, pseudo_bsn FROM client_spaces WHERE space_id = ?")
            .bind(space_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| ClientLink { space_id: r.get(0), display_name: r.get(1), pseudo_bsn: r.get(2) }))
    }

    /// Forgets every client link (at sign-out).
    pub async fn forget_client_links(&self) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM client_spaces").execute(&self.pool).await?;
        Ok(())
    }

    /// Every client known on this device, by name.
    pub async fn client_links(&self) -> Result<Vec<ClientLink>, StoreError> {
        let rows = sqlx::query("SELECT space_id, display_name, pseudo_bsn FROM client_spaces ORDER BY display_name")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| ClientLink { space_id: r.get(0), display_name: r.get(1), pseudo_bsn: r.get(2) }).collect())
    }

    /// The newest `limit` audit entries, newest first.
    pub async fn audit_entries(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT at_ms, actor, action, subject FROM audit_log ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                at_ms: r.get(0),
                actor: r.get(1),
                action: r.get(2),
                subject: r.get(3),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn settings_and_audit_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("kring.db");
        {
            let store = Store::open(&path).await.unwrap();
            assert_eq!(store.setting("last_room").await.unwrap(), None);
            store.set_setting("last_room", "!a:x").await.unwrap();
            store.set_setting("last_room", "!b:x").await.unwrap();
            store.audit("@u:x", "login", None).await.unwrap();
            store.audit("@u:x", "send", Some("!b:x")).await.unwrap();
        }
        let store = Store::open(&path).await.unwrap();
        assert_eq!(store.setting("last_room").await.unwrap().as_deref(), Some("!b:x"));
        let entries = store.audit_entries(10).await.unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].action, "send");
        assert_eq!(entries[0].subject.as_deref(), Some("!b:x"));
        assert_eq!(entries[1].action, "login");
        assert!(entries[1].at_ms > 1_600_000_000_000);
    }

    #[tokio::test]
    async fn client_links_are_kept_and_updated_per_space() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("kring.db")).await.unwrap();
        assert_eq!(store.client_for_space("!s:x").await.unwrap(), None);
        let link = ClientLink { space_id: "!s:x".into(), display_name: "J. Kok".into(), pseudo_bsn: "123".into() };
        store.link_client_space(&link).await.unwrap();
        let renamed = ClientLink { display_name: "Jan Kok".into(), ..link.clone() };
        store.link_client_space(&renamed).await.unwrap();
        assert_eq!(store.client_for_space("!s:x").await.unwrap(), Some(renamed.clone()));
        assert_eq!(store.client_links().await.unwrap(), vec![renamed]);
        assert!(!format!("{link:?}").contains("123"), "Debug must not print the pseudo-BSN");
    }

    #[tokio::test]
    async fn an_unwritable_location_is_a_clear_error() {
        let err = Store::open(Path::new("/proc/kring/kring.db")).await.unwrap_err();
        assert!(matches!(err, StoreError::Open(_)), "{err:?}");
    }
}
