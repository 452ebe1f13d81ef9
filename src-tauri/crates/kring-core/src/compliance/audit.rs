//! The audit trail of NEN 7513 (UC8): who did what to which client's data,
//! from which device, with what outcome. Reads count: opening a care team,
//! its network or a conversation, showing an attachment. Kept append-only
//! and hash-chained in Kring's database (`kring_store::audit`), exported as
//! FHIR R4 `AuditEvent`s after the IHE Basic Audit Log Patterns (BALP), and
//! delivered to the organisation's FHIR endpoint when one is configured.
//!
//! Never message text, a client's name or BSN: the client is referred to
//! by the care team's space id, a pseudonym that only a device holding the
//! sealed client link can resolve.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use matrix_sdk::ruma::{OwnedRoomId, events::StateEventType};
use serde::Serialize;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::{CoreError, Session, care_team::store_err};

/// A read of the same object by the same session is recorded once per
/// window: the UI re-reads an open care team every few seconds, and a
/// trail of those would bury the accesses that matter.
const READ_WINDOW: Duration = Duration::from_secs(300);

/// The setting that remembers how far the trail was delivered.
const DELIVERED_SETTING: &str = "audit_delivered_seq";
/// Events per delivery (one FHIR transaction).
const DELIVERY_BATCH: i64 = 200;

/// The care team (space) a conversation sits in: its `m.space.parent`. Local state only.
pub(crate) async fn space_of(room: &matrix_sdk::Room) -> Option<String> {
    let parents = room.get_state_events(StateEventType::SpaceParent).await.ok()?;
    parents.iter().find_map(|e| crate::care_team::state_json(e).ok()?["state_key"].as_str().map(str::to_owned))
}

/// FHIR `AuditEvent.action` (C, R, U, D, E) and the BALP interaction.
fn action_of(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "open_care_team" | "open_care_network" | "open_conversation" | "download_attachment" | "show_attachment" => {
            ("R", "read")
        }
        "create_care_team"
        | "start_conversation"
        | "send"
        | "send_urgent"
        | "invite_to_care_team"
        | "invite_by_email"
        | "add_to_conversation"
        | "bind_care_identity"
        | "bind_email"
        | "enable_recovery"
        | "pusher_register" => ("C", "create"),
        "set_role"
        | "accept_care_team_invite"
        | "send_edit"
        | "send_retry"
        | "notification_mode"
        | "complete_email_invite"
        | "archive_conversation"
        | "reopen_conversation"
        | "identity_service_terms"
        | "recover"
        | "request_device_verification"
        | "confirm_device_verification"
        | "reject_device_verification"
        | "set_relation"
        | "set_sensitive" => ("U", "update"),
        "redact" | "send_discard" | "sign_out_device" | "pusher_remove" | "logout" => ("D", "delete"),
        // Sign-ins, exports and anything not named above: executed.
        _ => ("E", "execute"),
    }
}

/// Per-session memory of recent reads.
#[derive(Default)]
pub(crate) struct RecentReads(std::sync::Mutex<HashMap<(String, String), Instant>>);

impl RecentReads {
    /// Whether this read should be recorded now (and remembers it).
    fn due(&self, kind: &str, object: &str) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        seen.retain(|_, at| now.duration_since(*at) < READ_WINDOW);
        seen.insert((kind.to_owned(), object.to_owned()), now).is_none()
    }
}

/// One event of the trail, as `kring-cli audit` and the UI show it.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub seq: i64,
    pub event_id: String,
    /// C, R, U, D or E.
    pub action: String,
    /// What happened, e.g. `open_conversation`.
    pub kind: String,
    pub recorded_at: String,
    /// 0 success, 4 minor failure, 8 serious failure.
    pub outcome: i64,
    pub user_id: String,
    pub user_uzi: Option<String>,
    pub user_role: Option<String>,
    /// The care team (space id) that stands for the client.
    pub client_ref: Option<String>,
    pub object: Option<String>,
    pub detail: Option<String>,
    pub device: Option<String>,
}

impl From<kring_store::AuditEvent> for AuditEntry {
    fn from(e: kring_store::AuditEvent) -> Self {
        Self {
            seq: e.seq,
            event_id: e.event_id,
            action: e.record.action,
            kind: e.record.kind,
            recorded_at: recorded(e.recorded_ms),
            outcome: e.record.outcome,
            user_id: e.record.user_id,
            user_uzi: e.record.user_uzi,
            user_role: e.record.user_role,
            client_ref: e.record.client_ref,
            object: e.record.object,
            detail: e.record.detail,
            device: e.record.device,
        }
    }
}

fn recorded(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

impl Session {
    /// Records an action of this user on this device. Failures to write are
    /// logged, never shown: an audit write must not stop care.
    pub(crate) async fn record_audit(&self, kind: &str, subject: Option<&str>, detail: Option<&str>, outcome: i64) {
        let (action, _) = action_of(kind);
        let user_id = self.client.user_id().map(|u| u.to_string()).unwrap_or_default();
        let binding = self.store.identity_binding(&user_id).await.ok().flatten();
        let record = kring_store::AuditRecord {
            action: action.to_owned(),
            kind: kind.to_owned(),
            outcome,
            user_uzi: binding.as_ref().map(|b| b.uzi.clone()),
            user_role: binding.and_then(|b| b.role_codes.first().cloned()),
            user_id,
            client_ref: match subject {
                Some(s) => self.client_ref_of(s).await,
                None => None,
            },
            object: subject.map(str::to_owned),
            detail: detail.map(str::to_owned),
            device: self.client.device_id().map(|d| d.to_string()),
        };
        if let Err(e) = self.store.append_audit(&record).await {
            warn!("audit trail write failed: {e}");
        }
    }

    /// A read (opening a care team, its network or a conversation), once per
    /// object and window.
    pub async fn audit_read(&self, kind: &str, object: &str) {
        if self.recent_reads.due(kind, object) {
            self.record_audit(kind, Some(object), None, 0).await;
        }
    }

    /// The care team a room belongs to: the room itself when it is a care
    /// team, else its `m.space.parent`. Local state only.
    async fn client_ref_of(&self, room_id: &str) -> Option<String> {
        let room = self.client.get_room(&OwnedRoomId::try_from(room_id).ok()?)?;
        if room.is_space() {
            return Some(room_id.to_owned());
        }
        space_of(&room).await
    }

    /// The newest `limit` events, newest first.
    pub async fn audit_trail(&self, limit: i64) -> Result<Vec<AuditEntry>, CoreError> {
        Ok(self.store.latest_audit_events(limit).await.map_err(store_err)?.into_iter().map(AuditEntry::from).collect())
    }

    /// Checks the hash chain from its first event.
    pub async fn verify_audit_trail(&self) -> Result<kring_store::ChainCheck, CoreError> {
        self.store.verify_audit_chain().await.map_err(store_err)
    }

    /// The events after `after_seq` as a FHIR R4 transaction Bundle of
    /// `AuditEvent`s (IHE BALP), at most `limit`. The export is audited too.
    pub async fn export_audit(&self, after_seq: i64, limit: i64) -> Result<(Value, Option<i64>), CoreError> {
        let (bundle, last) = self.audit_bundle(after_seq, limit).await?;
        let count = bundle["entry"].as_array().map_or(0, Vec::len);
        self.record_audit("export_audit", None, Some(&format!("{count} events")), 0).await;
        Ok((bundle, last))
    }

    async fn audit_bundle(&self, after_seq: i64, limit: i64) -> Result<(Value, Option<i64>), CoreError> {
        let events = self.store.audit_events(after_seq, limit).await.map_err(store_err)?;
        let last = events.last().map(|e| e.seq);
        let entries: Vec<Value> = events
            .iter()
            .map(|e| {
                json!({"fullUrl": format!("urn:uuid:{}", e.event_id), "resource": audit_event(e),
                       "request": {"method": "PUT", "url": format!("AuditEvent/{}", e.event_id)}})
            })
            .collect();
        Ok((json!({"resourceType": "Bundle", "type": "transaction", "entry": entries}), last))
    }

    /// Sends what the organisation's FHIR endpoint has not had yet, a batch
    /// at a time (PUT by event id: a batch sent twice is stored once). Where
    /// it got to is kept, so an endpoint that is down loses nothing: the
    /// next delivery starts where this one stopped. The delivery is audited
    /// after it, so it goes with the next one. Returns how many events went.
    pub async fn deliver_audit(&self, endpoint: &url::Url) -> Result<usize, CoreError> {
        let delivered = || async {
            let kept = self.store.setting(DELIVERED_SETTING).await.map_err(store_err)?;
            Ok::<i64, CoreError>(kept.and_then(|s| s.parse().ok()).unwrap_or(0))
        };
        let until = self.store.latest_audit_events(1).await.map_err(store_err)?.first().map_or(0, |e| e.seq);
        let mut sent = 0;
        let result = async {
            loop {
                let after = delivered().await?;
                if after >= until {
                    return Ok(());
                }
                let (bundle, last) = self.audit_bundle(after, DELIVERY_BATCH.min(until - after)).await?;
                let Some(last) = last else { return Ok(()) };
                let answer = self
                    .client
                    .http_client()
                    .post(endpoint.clone())
                    .header("Content-Type", "application/fhir+json")
                    .json(&bundle)
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await
                    .map_err(|e| CoreError::AuditEndpointUnreachable(e.to_string()))?;
                if !answer.status().is_success() {
                    let status = answer.status();
                    let outcome: Value = answer.json().await.unwrap_or(Value::Null);
                    return Err(CoreError::AuditEndpointRefused(format!("{status}: {}", issue_text(&outcome))));
                }
                self.store.set_setting(DELIVERED_SETTING, &last.to_string()).await.map_err(store_err)?;
                sent += bundle["entry"].as_array().map_or(0, Vec::len);
            }
        }
        .await;
        let outcome = if result.is_ok() { 0 } else { 4 };
        self.record_audit("deliver_audit", None, Some(&format!("{sent} events to {endpoint}")), outcome).await;
        info!(events = sent, "audit events delivered");
        result.map(|()| sent)
    }
}

fn issue_text(outcome: &Value) -> String {
    outcome["issue"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["diagnostics"].as_str().or(i["details"]["text"].as_str()))
        .collect::<Vec<_>>()
        .join("; ")
}

use kring_fhir::systems::{
    CARE_TEAM as KRING_CARE_TEAM, MATRIX_ID as KRING_MATRIX_ID, UZI as UZI_SYSTEM, UZI_ROLE as ROLE_SYSTEM,
};

/// One event as a FHIR R4 AuditEvent after IHE BALP: a RESTful interaction
/// (read, create, update, delete, execute) by the user (agent, with UZI and
/// role code) from this device (source), on the client (entity role 1,
/// by pseudonym) and the object (entity role 4, the room).
pub fn audit_event(e: &kring_store::AuditEvent) -> Value {
    let r = &e.record;
    let (_, interaction) = action_of(&r.kind);
    let mut who = json!({"display": r.user_id, "identifier": {"system": KRING_MATRIX_ID, "value": r.user_id}});
    if let Some(uzi) = &r.user_uzi {
        who["identifier"] = json!({"system": UZI_SYSTEM, "value": uzi});
    }
    let mut agent = json!({
        "type": {"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110153",
                             "display": "Source Role ID"}]},
        "who": who, "requestor": true,
        "altId": r.user_id,
    });
    if let Some(role) = &r.user_role {
        agent["role"] = json!([{"coding": [{"system": ROLE_SYSTEM, "code": role}]}]);
    }
    let mut entities = Vec::new();
    if let Some(client) = &r.client_ref {
        entities.push(json!({
            "what": {"identifier": {"system": KRING_CARE_TEAM, "value": client}},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"},
        }));
    }
    if let Some(object) = &r.object {
        let mut entity = json!({
            "what": {"identifier": {"system": "urn:kring:matrix-room", "value": object}},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2",
                     "display": "System Object"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "4", "display": "Domain Resource"},
        });
        if let Some(detail) = &r.detail {
            entity["description"] = json!(detail);
        }
        entities.push(entity);
    }
    json!({
        "resourceType": "AuditEvent",
        "id": e.event_id,
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest",
                 "display": "RESTful Operation"},
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": interaction},
                    {"system": "urn:kring:audit-kind", "code": r.kind}],
        "action": r.action,
        "recorded": recorded(e.recorded_ms),
        "outcome": r.outcome.to_string(),
        "agent": [agent],
        "source": {
            "site": r.device.clone().unwrap_or_default(),
            "observer": {"display": format!("Kring {}", r.device.as_deref().unwrap_or("?"))},
            "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "1",
                      "display": "User Device"}],
        },
        "entity": entities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo test --workspace --locked --lib -- --ignored --nocapture audit_benchmark`: 100,000
    /// events appended one by one (each its own immediate transaction, as in use), verified and
    /// exported as FHIR, next to plain sqlite INSERTs of the same rows (each its own statement,
    /// no chain) into the same kind of file, all in one run.
    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "a benchmark: run it with --ignored --nocapture"]
    async fn audit_benchmark() {
        const N: usize = 100_000;
        let dir = tempfile::tempdir().unwrap();
        let store = kring_store::Store::open(&dir.path().join("kring.db")).await.unwrap();
        let record = |i: usize| kring_store::AuditRecord {
            action: "R".into(),
            kind: "open_conversation".into(),
            outcome: 0,
            user_id: "@eva.dewit:zorg-a.example".into(),
            user_uzi: Some("900100101".into()),
            user_role: Some("01.022".into()),
            client_ref: Some(format!("!team{}:zorg-a.example", i % 1000)),
            object: Some(format!("!room{}:zorg-a.example", i % 5000)),
            detail: None,
            device: Some("KRINGDESK1".into()),
        };
        let started = Instant::now();
        for i in 0..N {
            store.append_audit(&record(i)).await.unwrap();
        }
        let append = started.elapsed();

        let started = Instant::now();
        let check = store.verify_audit_chain().await.unwrap();
        let verify = started.elapsed();
        assert_eq!(check, kring_store::ChainCheck { events: i64::try_from(N).unwrap(), first_broken: None });

        let started = Instant::now();
        let (mut after, mut bytes, mut exported) = (0, 0, 0);
        loop {
            let page = store.audit_events(after, 1000).await.unwrap();
            let Some(last) = page.last() else { break };
            after = last.seq;
            exported += page.len();
            bytes += page.iter().map(|e| audit_event(e).to_string().len()).sum::<usize>();
        }
        let export = started.elapsed();
        assert_eq!(exported, N);

        // The baseline: the same rows, plain INSERTs into a plain table of another file.
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("plain.db").display());
        let plain = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query("PRAGMA journal_mode = WAL").execute(&plain).await.unwrap();
        sqlx::query(
            "CREATE TABLE plain (seq INTEGER PRIMARY KEY, action TEXT, kind TEXT, recorded_ms INTEGER, outcome INTEGER, \
             user_id TEXT, user_uzi TEXT, user_role TEXT, client_ref TEXT, object TEXT, device TEXT)",
        )
        .execute(&plain)
        .await
        .unwrap();
        let started = Instant::now();
        for i in 0..N {
            let r = record(i);
            sqlx::query(
                "INSERT INTO plain (action, kind, recorded_ms, outcome, user_id, user_uzi, user_role, client_ref, \
                 object, device) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&r.action)
            .bind(&r.kind)
            .bind(1_796_000_000_000_i64)
            .bind(r.outcome)
            .bind(&r.user_id)
            .bind(&r.user_uzi)
            .bind(&r.user_role)
            .bind(&r.client_ref)
            .bind(&r.object)
            .bind(&r.device)
            .execute(&plain)
            .await
            .unwrap();
        }
        let baseline = started.elapsed();
        let rate = |d: Duration| N as f64 / d.as_secs_f64();
        println!("\naudit trail benchmark ({N} events, sqlite WAL, test profile)");
        println!(
            "  append, hash-chained, one immediate transaction each  {:>8.1} s  {:>8.0} events/s",
            append.as_secs_f64(),
            rate(append)
        );
        println!(
            "  plain sqlite INSERT of the same rows, one each         {:>8.1} s  {:>8.0} rows/s",
            baseline.as_secs_f64(),
            rate(baseline)
        );
        println!(
            "  append / plain                                         {:>8.2}x",
            append.as_secs_f64() / baseline.as_secs_f64()
        );
        println!("  verify the whole chain                                 {:>8.2} s", verify.as_secs_f64());
        println!(
            "  export as FHIR AuditEvents (JSON, {:.0} MB)              {:>8.2} s",
            bytes as f64 / 1e6,
            export.as_secs_f64()
        );
    }

    #[test]
    fn every_audited_action_has_its_crud_code() {
        assert_eq!(action_of("open_conversation"), ("R", "read"));
        assert_eq!(action_of("send"), ("C", "create"));
        assert_eq!(action_of("set_role"), ("U", "update"));
        assert_eq!(action_of("redact"), ("D", "delete"));
        assert_eq!(action_of("login"), ("E", "execute"));
        assert_eq!(action_of("export_audit"), ("E", "execute"));
    }

    #[test]
    fn a_read_is_recorded_once_per_window() {
        let reads = RecentReads::default();
        assert!(reads.due("open_care_team", "!a:x"));
        assert!(!reads.due("open_care_team", "!a:x"), "the UI's next poll is no new access");
        assert!(reads.due("open_conversation", "!a:x"));
        assert!(reads.due("open_care_team", "!b:x"));
    }

    #[test]
    fn an_audit_event_names_the_user_by_uzi_and_the_client_by_pseudonym_only() {
        let e = kring_store::AuditEvent {
            seq: 7,
            event_id: "0b7d3a52-8d3c-4c49-9b1e-1c2d3e4f5a6b".into(),
            recorded_ms: 1_796_000_000_000,
            record: kring_store::AuditRecord {
                action: "R".into(),
                kind: "open_conversation".into(),
                outcome: 0,
                user_id: "@eva:a".into(),
                user_uzi: Some("900100101".into()),
                user_role: Some("01.022".into()),
                client_ref: Some("!team:a".into()),
                object: Some("!room:a".into()),
                detail: None,
                device: Some("DEVICE1".into()),
            },
            prev_hash: kring_store::audit::GENESIS.into(),
            hash: "h".into(),
        };
        let fhir = audit_event(&e);
        assert_eq!((fhir["action"].as_str(), fhir["outcome"].as_str()), (Some("R"), Some("0")));
        assert_eq!(fhir["subtype"][0]["code"], "read");
        assert_eq!(fhir["agent"][0]["who"]["identifier"]["value"], "900100101");
        assert_eq!(fhir["agent"][0]["role"][0]["coding"][0]["code"], "01.022");
        assert_eq!(fhir["entity"][0]["role"]["code"], "1", "the client, as patient");
        assert_eq!(fhir["entity"][0]["what"]["identifier"]["value"], "!team:a");
        assert_eq!(fhir["source"]["site"], "DEVICE1");
        assert!(fhir["recorded"].as_str().unwrap().starts_with("2026-"));
    }
}
