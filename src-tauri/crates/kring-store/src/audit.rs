//! The audit trail (NEN 7513): append-only rows, each hashed together with
//! the hash of the row before it. Appends run in an immediate transaction,
//! so two writers (the app and the CLI on one profile) never fork the chain.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{Store, StoreError, now_ms};

/// The hash the first row chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What is recorded; the store adds the sequence number, the event id, the
/// time and the chain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// `C`, `R`, `U`, `D` or `E`.
    pub action: String,
    pub kind: String,
    /// 0 success, 4 minor failure, 8 serious failure.
    pub outcome: i64,
    pub user_id: String,
    pub user_uzi: Option<String>,
    pub user_role: Option<String>,
    pub client_ref: Option<String>,
    pub object: Option<String>,
    pub detail: Option<String>,
    pub device: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: i64,
    pub event_id: String,
    pub recorded_ms: i64,
    #[serde(flatten)]
    pub record: AuditRecord,
    pub prev_hash: String,
    pub hash: String,
}

/// The outcome of checking the chain from its first row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainCheck {
    pub events: i64,
    /// The first row whose hash, link or place in the sequence is wrong.
    pub first_broken: Option<i64>,
}

fn row_hash(prev_hash: &str, seq: i64, event_id: &str, recorded_ms: i64, r: &AuditRecord) -> String {
    // A JSON array in a fixed order: unambiguous where a joined string would not be.
    let fields = serde_json::json!([
        prev_hash,
        seq,
        event_id,
        r.action,
        r.kind,
        recorded_ms,
        r.outcome,
        r.user_id,
        r.user_uzi,
        r.user_role,
        r.client_ref,
        r.object,
        r.detail,
        r.device
    ]);
    let digest = Sha256::digest(fields.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn new_event_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    // A version 4 UUID, as FHIR ids and IHE audit logs expect.
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// The columns in the order `event_of` reads them (a macro: sqlx takes literal SQL only).
macro_rules! columns {
    () => {
        "seq, event_id, action, kind, recorded_ms, outcome, user_id, user_uzi, user_role, client_ref, \
         object, detail, device, prev_hash, hash"
    };
}

fn event_of(r: &sqlx::sqlite::SqliteRow) -> AuditEvent {
    AuditEvent {
        seq: r.get(0),
        event_id: r.get(1),
        record: AuditRecord {
            action: r.get(2),
            kind: r.get(3),
            outcome: r.get(5),
            user_id: r.get(6),
            user_uzi: r.get(7),
            user_role: r.get(8),
            client_ref: r.get(9),
            object: r.get(10),
            detail: r.get(11),
            device: r.get(12),
        },
        recorded_ms: r.get(4),
        prev_hash: r.get(13),
        hash: r.get(14),
    }
}

impl Store {
    /// Appends one event to the chain.
    pub async fn append_audit(&self, record: &AuditRecord) -> Result<AuditEvent, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let last: Option<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM audit_trail ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        let (seq, prev_hash) = last.map_or((1, GENESIS.to_owned()), |(s, h)| (s + 1, h));
        let (event_id, recorded_ms) = (new_event_id(), now_ms());
        let hash = row_hash(&prev_hash, seq, &event_id, recorded_ms, record);
        sqlx::query(concat!(
            "INSERT INTO audit_trail (",
            columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(seq)
        .bind(&event_id)
        .bind(&record.action)
        .bind(&record.kind)
        .bind(recorded_ms)
        .bind(record.outcome)
        .bind(&record.user_id)
        .bind(&record.user_uzi)
        .bind(&record.user_role)
        .bind(&record.client_ref)
        .bind(&record.object)
        .bind(&record.detail)
        .bind(&record.device)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(AuditEvent { seq, event_id, recorded_ms, record: record.clone(), prev_hash, hash })
    }

    /// Events after `after_seq`, oldest first, at most `limit`.
    pub async fn audit_events(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query(concat!("SELECT ", columns!(), " FROM audit_trail WHERE seq > ? ORDER BY seq LIMIT ?"))
            .bind(after_seq)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(event_of).collect())
    }

    /// The newest `limit` events, newest first.
    pub async fn latest_audit_events(&self, limit: i64) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query(concat!("SELECT ", columns!(), " FROM audit_trail ORDER BY seq DESC LIMIT ?"))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(event_of).collect())
    }

    /// Recomputes every hash from the first row on; the first row that does
    /// not match (edited, removed, reordered) is reported.
    pub async fn verify_audit_chain(&self) -> Result<ChainCheck, StoreError> {
        let mut prev = GENESIS.to_owned();
        let (mut expected_seq, mut after) = (1, 0);
        loop {
            let page = self.audit_events(after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for e in &page {
                let recomputed = row_hash(&prev, e.seq, &e.event_id, e.recorded_ms, &e.record);
                if e.seq != expected_seq || e.prev_hash != prev || e.hash != recomputed {
                    return Ok(ChainCheck { events: expected_seq - 1, first_broken: Some(e.seq) });
                }
                prev.clone_from(&e.hash);
                expected_seq += 1;
            }
        }
        Ok(ChainCheck { events: expected_seq - 1, first_broken: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: &str) -> AuditRecord {
        AuditRecord {
            action: "R".into(),
            kind: kind.into(),
            user_id: "@eva:a".into(),
            user_uzi: Some("900100101".into()),
            client_ref: Some("!team:a".into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn the_chain_holds_until_someone_edits_a_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kring.db");
        let store = Store::open(&path).await.unwrap();
        for kind in ["open_care_team", "open_conversation", "send"] {
            store.append_audit(&record(kind)).await.unwrap();
        }
        let events = store.audit_events(0, 10).await.unwrap();
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(events[0].prev_hash, GENESIS);
        assert_eq!(events[1].prev_hash, events[0].hash);
        assert_ne!(events[0].event_id, events[1].event_id);
        assert_eq!(store.verify_audit_chain().await.unwrap(), ChainCheck { events: 3, first_broken: None });

        // The database refuses edits and deletions...
        let edit =
            sqlx::query("UPDATE audit_trail SET user_id = '@mallory:a' WHERE seq = 2").execute(&store.pool).await;
        assert!(edit.unwrap_err().to_string().contains("append-only"));
        assert!(sqlx::query("DELETE FROM audit_trail WHERE seq = 3").execute(&store.pool).await.is_err());

        // ... and an edit made around that (the triggers dropped) shows in the chain.
        sqlx::query("DROP TRIGGER audit_trail_append_only_update").execute(&store.pool).await.unwrap();
        sqlx::query("UPDATE audit_trail SET user_id = '@mallory:a' WHERE seq = 2").execute(&store.pool).await.unwrap();
        assert_eq!(store.verify_audit_chain().await.unwrap(), ChainCheck { events: 1, first_broken: Some(2) });
    }

    #[tokio::test]
    async fn a_removed_row_breaks_the_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("kring.db")).await.unwrap();
        for kind in ["a", "b", "c"] {
            store.append_audit(&record(kind)).await.unwrap();
        }
        sqlx::query("DROP TRIGGER audit_trail_append_only_delete").execute(&store.pool).await.unwrap();
        sqlx::query("DELETE FROM audit_trail WHERE seq = 2").execute(&store.pool).await.unwrap();
        assert_eq!(store.verify_audit_chain().await.unwrap().first_broken, Some(3));
    }

    #[tokio::test]
    async fn concurrent_appends_keep_one_chain() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("kring.db")).await.unwrap();
        let writers = (0..8).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                for j in 0..10 {
                    store.append_audit(&record(&format!("w{i}-{j}"))).await.unwrap();
                }
            })
        });
        for w in writers {
            w.await.unwrap();
        }
        assert_eq!(store.verify_audit_chain().await.unwrap(), ChainCheck { events: 80, first_broken: None });
    }
}
