//! The care-network cache: per Matrix user, what their directory said, when
//! it last answered, and whether the last attempt to ask it failed.

use sqlx::Row;

use crate::{Store, StoreError, now_ms};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedEntry {
    pub user_id: String,
    pub directory: String,
    /// JSON, in the shape the directory crate defines.
    pub details: String,
    pub checked_ms: i64,
    pub stale: bool,
}

impl Store {
    pub async fn cache_directory_entry(&self, user_id: &str, directory: &str, details: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO directory_cache (user_id, directory, details, checked_ms, stale) VALUES (?, ?, ?, ?, 0)
             ON CONFLICT(user_id) DO UPDATE SET directory = excluded.directory, details = excluded.details,
               checked_ms = excluded.checked_ms, stale = 0",
        )
        .bind(user_id)
        .bind(directory)
        .bind(details)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The directory answered and nothing changed for this user.
    pub async fn confirm_directory_entry(&self, user_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE directory_cache SET checked_ms = ?, stale = 0 WHERE user_id = ?")
            .bind(now_ms())
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The directory could not be asked: keep the entries, mark them.
    pub async fn mark_directory_stale(&self, directory: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE directory_cache SET stale = 1 WHERE directory = ?")
            .bind(directory)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn cached_directory_entries(&self, user_ids: &[String]) -> Result<Vec<CachedEntry>, StoreError> {
        let mut out = Vec::with_capacity(user_ids.len());
        for user_id in user_ids {
            let row = sqlx::query(
                "SELECT user_id, directory, details, checked_ms, stale FROM directory_cache WHERE user_id = ?",
            )
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(r) = row {
                out.push(CachedEntry {
                    user_id: r.get(0),
                    directory: r.get(1),
                    details: r.get(2),
                    checked_ms: r.get(3),
                    stale: r.get::<i64, _>(4) != 0,
                });
            }
        }
        Ok(out)
    }

    pub async fn directory_since(&self, directory: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query("SELECT since FROM directory_sync WHERE directory = ?")
            .bind(directory)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.get(0)))
    }

    pub async fn set_directory_since(&self, directory: &str, since: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO directory_sync (directory, since) VALUES (?, ?) ON CONFLICT(directory) DO UPDATE SET since = excluded.since")
            .bind(directory)
            .bind(since)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Everyone cached, with when their directory last answered (retention).
    pub async fn directory_cache_ages(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query("SELECT user_id, checked_ms FROM directory_cache ORDER BY user_id")
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    /// Forgets what a directory said about one person.
    pub async fn forget_directory_entry(&self, user_id: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM directory_cache WHERE user_id = ?").bind(user_id).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every directory the cache has heard of (for the directory search).
    pub async fn cached_directories(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query("SELECT DISTINCT directory FROM directory_cache")
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|r| r.get(0))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_are_cached_marked_stale_and_confirmed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("kring.db")).await.unwrap();
        store.cache_directory_entry("@a:x", "http://b/fhir/", r#"{"name":"A"}"#).await.unwrap();
        store.cache_directory_entry("@c:x", "http://c/fhir/", "{}").await.unwrap();
        store.mark_directory_stale("http://b/fhir/").await.unwrap();
        let got = store.cached_directory_entries(&["@a:x".into(), "@c:x".into(), "@none:x".into()]).await.unwrap();
        assert_eq!(got.len(), 2);
        assert!(got[0].stale && !got[1].stale);
        store.confirm_directory_entry("@a:x").await.unwrap();
        assert!(!store.cached_directory_entries(&["@a:x".into()]).await.unwrap()[0].stale);
        assert_eq!(store.directory_since("http://b/fhir/").await.unwrap(), None);
        store.set_directory_since("http://b/fhir/", "2026-12-01T10:00:00Z").await.unwrap();
        assert_eq!(store.directory_since("http://b/fhir/").await.unwrap().as_deref(), Some("2026-12-01T10:00:00Z"));
        assert_eq!(store.cached_directories().await.unwrap().len(), 2);

        let ages = store.directory_cache_ages().await.unwrap();
        assert_eq!(ages.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>(), ["@a:x", "@c:x"]);
        assert!(ages.iter().all(|(_, checked)| *checked > 0));
        assert!(store.forget_directory_entry("@a:x").await.unwrap());
        assert!(!store.forget_directory_entry("@a:x").await.unwrap(), "gone already");
        assert!(store.cached_directory_entries(&["@a:x".into()]).await.unwrap().is_empty());
        assert_eq!(store.directory_cache_ages().await.unwrap().len(), 1);
    }
}
