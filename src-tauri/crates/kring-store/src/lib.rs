//! Kring's own sqlite database (sqlx), next to the SDK's stores: settings,
//! the audit log, and later the client↔space links and the directory cache.
//! The schema evolves only through the migrations in `migrations/`.

pub mod audit;
mod directory_cache;
mod identity_binding;
mod migration_job;

use std::{path::Path, str::FromStr, time::SystemTime};

use serde::Serialize;
use sqlx::{
    Row, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions},
};

pub use audit::{AuditEvent, AuditRecord, ChainCheck};
pub use directory_cache::CachedEntry;
pub use identity_binding::IdentityBinding;
pub use migration_job::{MigrationJob, MigrationJobs, MigrationRoom};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database: {0}")]
    Open(String),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error("patient data is locked: open the store with the session's passphrase")]
    Locked,
    #[error("patient data cannot be decrypted: {0}")]
    Cipher(String),
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

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    /// Seals patient data (client links). Absent when opened without a
    /// session, e.g. to read the audit log.
    cipher: Option<std::sync::Arc<matrix_sdk_store_encryption::StoreCipher>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("unlocked", &self.cipher.is_some()).finish_non_exhaustive()
    }
}

/// What a client link holds, sealed as one value.
#[derive(serde::Serialize, serde::Deserialize)]
struct SealedClient {
    display_name: String,
    pseudo_bsn: String,
}

const CIPHER_SETTING: &str = "store_cipher";

fn cipher_err(e: matrix_sdk_store_encryption::Error) -> StoreError {
    StoreError::Cipher(e.to_string())
}

/// Milliseconds since the Unix epoch: the clock every stored timestamp uses.
pub fn now_ms() -> i64 {
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
        Ok(Self { pool, cipher: None })
    }

    /// Opens the store and unlocks patient data with `passphrase` (the one
    /// kept in the OS keychain). The first unlock creates the cipher.
    pub async fn open_unlocked(path: &Path, passphrase: &str) -> Result<Self, StoreError> {
        use matrix_sdk_store_encryption::StoreCipher;
        let mut store = Self::open(path).await?;
        let cipher = match store.setting(CIPHER_SETTING).await? {
            Some(hex) => {
                let bytes = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
                    .collect::<Result<Vec<u8>, _>>()
                    .map_err(|e| StoreError::Cipher(e.to_string()))?;
                StoreCipher::import(passphrase, &bytes).map_err(cipher_err)?
            }
            None => {
                let cipher = StoreCipher::new().map_err(cipher_err)?;
                let exported = cipher.export(passphrase).map_err(cipher_err)?;
                let hex: String = exported.iter().map(|b| format!("{b:02x}")).collect();
                store.set_setting(CIPHER_SETTING, &hex).await?;
                cipher
            }
        };
        store.cipher = Some(std::sync::Arc::new(cipher));
        Ok(store)
    }

    fn cipher(&self) -> Result<&matrix_sdk_store_encryption::StoreCipher, StoreError> {
        self.cipher.as_deref().ok_or(StoreError::Locked)
    }

    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = ?").bind(key).fetch_optional(&self.pool).await?;
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

    /// Records (or updates) which client a care-team space is about, sealed.
    pub async fn link_client_space(&self, link: &ClientLink) -> Result<(), StoreError> {
        let sealed = self
            .cipher()?
            .encrypt_value(&SealedClient {
                display_name: link.display_name.clone(),
                pseudo_bsn: link.pseudo_bsn.clone(),
            })
            .map_err(cipher_err)?;
        sqlx::query(
            "INSERT INTO client_links(space_id, client, linked_at_ms) VALUES (?, ?, ?) \
             ON CONFLICT(space_id) DO UPDATE SET client = excluded.client",
        )
        .bind(&link.space_id)
        .bind(sealed)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    fn unseal(&self, space_id: String, sealed: &[u8]) -> Result<ClientLink, StoreError> {
        let client: SealedClient = self.cipher()?.decrypt_value(sealed).map_err(cipher_err)?;
        Ok(ClientLink { space_id, display_name: client.display_name, pseudo_bsn: client.pseudo_bsn })
    }

    pub async fn client_for_space(&self, space_id: &str) -> Result<Option<ClientLink>, StoreError> {
        let row = sqlx::query("SELECT space_id, client FROM client_links WHERE space_id = ?")
            .bind(space_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| self.unseal(r.get(0), &r.get::<Vec<u8>, _>(1))).transpose()
    }

    /// Drops the sealed patient data and its key: a new sign-in brings a new
    /// passphrase, and data sealed under the old one is unreadable anyway.
    pub async fn reset_sealed_data(&self) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM client_links").execute(&self.pool).await?;
        sqlx::query("DELETE FROM settings WHERE key = ?").bind(CIPHER_SETTING).execute(&self.pool).await?;
        Ok(())
    }

    /// Forgets which client a care team was about (the user left it).
    pub async fn forget_client_link(&self, space_id: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM client_links WHERE space_id = ?").bind(space_id).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Forgets every client link (at sign-out).
    pub async fn forget_client_links(&self) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM client_links").execute(&self.pool).await?;
        Ok(())
    }

    /// Every client known on this device, by name.
    pub async fn client_links(&self) -> Result<Vec<ClientLink>, StoreError> {
        let rows = sqlx::query("SELECT space_id, client FROM client_links").fetch_all(&self.pool).await?;
        let mut links =
            rows.into_iter().map(|r| self.unseal(r.get(0), &r.get::<Vec<u8>, _>(1))).collect::<Result<Vec<_>, _>>()?;
        // Sorted here: the names are sealed, the database cannot sort them.
        links.sort_by(|a, b| a.display_name.cmp(&b.display_name));
        Ok(links)
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
            let event = |kind: &str, object: Option<&str>| AuditRecord {
                action: "E".into(),
                kind: kind.into(),
                user_id: "@u:x".into(),
                object: object.map(Into::into),
                ..Default::default()
            };
            store.append_audit(&event("login", None)).await.unwrap();
            store.append_audit(&event("send", Some("!b:x"))).await.unwrap();
        }
        let store = Store::open(&path).await.unwrap();
        assert_eq!(store.setting("last_room").await.unwrap().as_deref(), Some("!b:x"));
        let entries = store.latest_audit_events(10).await.unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].record.kind, "send");
        assert_eq!(entries[0].record.object.as_deref(), Some("!b:x"));
        assert_eq!(entries[1].record.kind, "login");
        assert!(entries[1].recorded_ms > 1_600_000_000_000);
        assert_eq!(store.verify_audit_chain().await.unwrap().first_broken, None, "the chain survives reopening");
    }

    #[tokio::test]
    async fn client_links_are_sealed_at_rest_and_need_the_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kring.db");
        {
            let store = Store::open_unlocked(&path, "geheim").await.unwrap();
            let link = ClientLink {
                space_id: "!s:x".into(),
                display_name: "Mw. Q. Zwart".into(),
                pseudo_bsn: "90000000777".into(),
            };
            store.link_client_space(&link).await.unwrap();
            store.pool.close().await;
        }
        // Neither the database nor its journal holds the patient data in the clear.
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains("90000000777") && !text.contains("Zwart"), "patient data in the clear");
        }
        let store = Store::open_unlocked(&path, "geheim").await.unwrap();
        assert_eq!(store.client_for_space("!s:x").await.unwrap().unwrap().pseudo_bsn, "90000000777");
        assert!(matches!(Store::open_unlocked(&path, "fout").await, Err(StoreError::Cipher(_))));
        let locked = Store::open(&path).await.unwrap();
        assert!(matches!(locked.client_links().await, Err(StoreError::Locked)));
    }

    #[tokio::test]
    async fn client_links_are_kept_and_updated_per_space() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_unlocked(&dir.path().join("kring.db"), "pw").await.unwrap();
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
