//! The vendor-migration job's own database (UC4), apart from `kring.db`:
//! the job can run as a service for many accounts, and its state must
//! survive a crash between any two steps. Rows hold Matrix ids and levels,
//! no patient data.

use std::{path::Path, str::FromStr};

use sqlx::{
    Row, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions},
};

use crate::{StoreError, now_ms};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationJob {
    pub old_user_id: String,
    pub new_user_id: String,
    pub state: String,
    pub detail: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub leads_told_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationRoom {
    pub room_id: String,
    pub space_id: Option<String>,
    pub level: i64,
    pub state: String,
    pub error: Option<String>,
}

const JOB_COLUMNS: &str = "old_user_id, new_user_id, state, detail, created_ms, updated_ms, leads_told_ms";

fn job_of(r: &sqlx::sqlite::SqliteRow) -> MigrationJob {
    MigrationJob {
        old_user_id: r.get(0),
        new_user_id: r.get(1),
        state: r.get(2),
        detail: r.get(3),
        created_ms: r.get(4),
        updated_ms: r.get(5),
        leads_told_ms: r.get(6),
    }
}

#[derive(Clone, Debug)]
pub struct MigrationJobs {
    pool: SqlitePool,
}

impl MigrationJobs {
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Open(e.to_string()))?;
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(|e| StoreError::Open(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Open(e.to_string()))?;
        sqlx::migrate!("./migrations-migration").run(&pool).await?;
        Ok(Self { pool })
    }

    /// The job for this move, created in state `planned` if there is none.
    pub async fn job(&self, old: &str, new: &str) -> Result<MigrationJob, StoreError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO migration_jobs (old_user_id, new_user_id, state, created_ms, updated_ms)
             VALUES (?, ?, 'planned', ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(old)
        .bind(new)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        // Only the constant column list is spliced in; the ids are bound.
        let sql = format!("SELECT {JOB_COLUMNS} FROM migration_jobs WHERE old_user_id = ? AND new_user_id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(old).bind(new).fetch_one(&self.pool).await?;
        Ok(job_of(&row))
    }

    /// Every job, newest first (for `status` without a directory at hand).
    pub async fn jobs(&self) -> Result<Vec<MigrationJob>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM migration_jobs ORDER BY created_ms DESC");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(job_of).collect())
    }

    pub async fn set_job_state(
        &self,
        old: &str,
        new: &str,
        state: &str,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE migration_jobs SET state = ?, detail = ?, updated_ms = ? WHERE old_user_id = ? AND new_user_id = ?",
        )
        .bind(state)
        .bind(detail)
        .bind(now_ms())
        .bind(old)
        .bind(new)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn set_leads_told(&self, old: &str, new: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE migration_jobs SET leads_told_ms = ? WHERE old_user_id = ? AND new_user_id = ?")
            .bind(now_ms())
            .bind(old)
            .bind(new)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Adds a room to the job as `planned`; a room already there keeps its state.
    pub async fn add_room(&self, old: &str, new: &str, room: &MigrationRoom) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO migration_rooms (old_user_id, new_user_id, room_id, space_id, level, state, updated_ms)
             VALUES (?, ?, ?, ?, ?, 'planned', ?) ON CONFLICT DO NOTHING",
        )
        .bind(old)
        .bind(new)
        .bind(&room.room_id)
        .bind(&room.space_id)
        .bind(room.level)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn set_room_state(
        &self,
        old: &str,
        new: &str,
        room_id: &str,
        state: &str,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE migration_rooms SET state = ?, error = ?, updated_ms = ?
             WHERE old_user_id = ? AND new_user_id = ? AND room_id = ?",
        )
        .bind(state)
        .bind(error)
        .bind(now_ms())
        .bind(old)
        .bind(new)
        .bind(room_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The job's rooms, care-team spaces first, in the order they were added.
    pub async fn rooms(&self, old: &str, new: &str) -> Result<Vec<MigrationRoom>, StoreError> {
        let rows = sqlx::query(
            "SELECT room_id, space_id, level, state, error FROM migration_rooms
             WHERE old_user_id = ? AND new_user_id = ? ORDER BY space_id IS NOT NULL, rowid",
        )
        .bind(old)
        .bind(new)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| MigrationRoom {
                room_id: r.get(0),
                space_id: r.get(1),
                level: r.get(2),
                state: r.get(3),
                error: r.get(4),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_job_and_its_rooms_survive_reopening_and_keep_their_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("migration.db");
        let jobs = MigrationJobs::open(&path).await.unwrap();
        let (old, new) = ("@eva:a", "@eva:n");
        assert_eq!(jobs.job(old, new).await.unwrap().state, "planned");
        let conversation = MigrationRoom {
            room_id: "!c:a".into(),
            space_id: Some("!s:a".into()),
            level: 50,
            state: String::new(),
            error: None,
        };
        let space =
            MigrationRoom { room_id: "!s:a".into(), space_id: None, level: 100, state: String::new(), error: None };
        jobs.add_room(old, new, &conversation).await.unwrap();
        jobs.add_room(old, new, &space).await.unwrap();
        jobs.set_room_state(old, new, "!c:a", "invited", None).await.unwrap();
        jobs.set_job_state(old, new, "inviting", None).await.unwrap();
        // Adding again (a rerun) does not reset a room.
        jobs.add_room(old, new, &conversation).await.unwrap();
        drop(jobs);

        let jobs = MigrationJobs::open(&path).await.unwrap();
        assert_eq!(jobs.job(old, new).await.unwrap().state, "inviting");
        let rooms = jobs.rooms(old, new).await.unwrap();
        assert_eq!(rooms.iter().map(|r| r.room_id.as_str()).collect::<Vec<_>>(), ["!s:a", "!c:a"], "spaces first");
        assert_eq!(rooms[1].state, "invited");
        assert_eq!(rooms[0].state, "planned");
        assert_eq!(jobs.jobs().await.unwrap().len(), 1);
    }
}
