//! Archiving to the organisation's information system (UC8), and the way
//! back: a conversation goes out as one FHIR transaction (`kring-fhir`
//! maps it), and a `CommunicationRequest` the information system posted
//! comes in as a new conversation.

use std::time::Duration;

use kring_fhir::{IncomingFile, IncomingThread, PartyKind, Recipient};
use matrix_sdk::media::{MediaFormat, MediaRequestParameters};
use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

use crate::{
    ConversationKind, ConversationStatus, CoreError, NewAttachment, NewConversation, ParticipantKind, Session,
    attachment::attachments_of, care_team::store_err,
};

/// How long the information system may take over one archive or request.
const FHIR_TIMEOUT: Duration = Duration::from_secs(60);
/// History read back to the start of a conversation, at most this many
/// pages of 100 events (a conversation of 50,000 events).
const MAX_PAGES: usize = 500;

/// What an archive held and where it went.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveReceipt {
    pub room_id: String,
    pub messages: u32,
    pub files: u32,
    /// FHIR resources written (or, unsent, in the bundle).
    pub resources: u32,
    /// Messages this device cannot decrypt: not in the archive.
    pub undecryptable: u32,
}

/// A request of the information system that became a conversation.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ImportedRequest {
    pub request_id: String,
    pub room_id: String,
    pub subject: String,
}

/// A request that could not be taken up, and why (the others still are).
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RefusedRequest {
    pub request_id: String,
    pub code: crate::ErrorCode,
    pub message: String,
}

#[derive(Clone, Debug, Default, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub started: Vec<ImportedRequest>,
    /// Already a conversation (imported before): left as they are.
    pub already: Vec<String>,
    pub refused: Vec<RefusedRequest>,
}

fn fhir_err(e: kring_fhir::FhirError) -> CoreError {
    match e {
        kring_fhir::FhirError::SubjectTooLong { length, .. } => CoreError::SubjectTooLong { length },
        other => CoreError::FhirInvalid(other.to_string()),
    }
}

/// `base` with a path under it (`base` may or may not end in `/`).
fn under(base: &url::Url, path: &str) -> Result<url::Url, CoreError> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    base.join(path).map_err(|e| CoreError::FhirInvalid(format!("{path}: {e}")))
}

impl Session {
    /// The conversation as `kring-fhir` sees it: the care team with each
    /// person's directory resources, and every message this device can
    /// read, from the first, with its files decrypted.
    async fn conversation_record(&self, room_id: &str) -> Result<(kring_fhir::Conversation, u32), CoreError> {
        let summary = self.conversation(room_id).await?;
        let room = self.joined_room(room_id)?;
        let space_id = crate::compliance::audit::space_of(&room)
            .await
            .ok_or_else(|| CoreError::NotACareTeam(room_id.to_owned()))?;
        let client = self.client_of(&space_id).await?;
        let network = self.care_network(&space_id).await?;
        let ids: Vec<String> = network.participants.iter().map(|p| p.user_id.clone()).collect();
        let cached = self.store.cached_directory_entries(&ids).await.map_err(store_err)?;
        let mut care_team = Vec::new();
        for p in &network.participants {
            let binding = self.store.identity_binding(&p.user_id).await.map_err(store_err)?;
            let entry = cached.iter().find(|e| e.user_id == p.user_id);
            let details: kring_directory::network::PractitionerDetails =
                entry.and_then(|e| serde_json::from_str(&e.details).ok()).unwrap_or_default();
            let base = entry.map(|e| e.directory.trim_end_matches('/').to_owned());
            let in_directory =
                |kind: &str, id: &Option<String>| Some(format!("{}/{kind}/{}", base.as_deref()?, id.as_deref()?));
            care_team.push(kring_fhir::Party {
                user_id: p.user_id.clone(),
                display_name: p.name.clone(),
                kind: match p.kind {
                    ParticipantKind::Practitioner => PartyKind::Practitioner,
                    ParticipantKind::RelatedPerson => PartyKind::RelatedPerson,
                    ParticipantKind::Client => PartyKind::Patient,
                },
                directory_url: binding
                    .as_ref()
                    .and_then(|b| b.practitioner_url.clone())
                    .or_else(|| in_directory("Practitioner", &details.practitioner_id)),
                uzi: binding.as_ref().map(|b| b.uzi.clone()).filter(|u| !u.is_empty()).or(details.uzi.clone()),
                ura: binding.as_ref().map(|b| b.ura.clone()).filter(|u| !u.is_empty()),
                organisation: p.organisation.clone(),
                organisation_url: in_directory("Organization", &details.organisation_id),
                function: p.function.clone(),
                relation: p.relation.clone(),
            });
        }

        // The whole history, oldest first, through the timeline (decrypted,
        // edits applied, redactions shown as such).
        let timeline = self.timeline(room_id).await?;
        for _ in 0..MAX_PAGES {
            match timeline.paginate_backwards(100).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => return Err(CoreError::Internal(format!("cannot read the conversation's history: {e}"))),
            }
        }
        let mut messages = Vec::new();
        let mut undecryptable = 0_u32;
        for item in timeline.items().await.iter() {
            let Some(event) = item.as_event() else { continue };
            let (Some(event_id), false) = (event.event_id(), event.content().is_redacted()) else { continue };
            if event.content().is_unable_to_decrypt() {
                undecryptable += 1;
                continue;
            }
            let Some(message) = event.content().as_message() else { continue };
            let found = attachments_of(message.msgtype());
            let listed: Vec<crate::Attachment> = found.iter().map(|(a, _)| a.clone()).collect();
            let mut files = Vec::new();
            for (attachment, source) in found {
                let request = MediaRequestParameters { source, format: MediaFormat::File };
                let data = self
                    .client
                    .media()
                    .get_media_content(&request, true)
                    .await
                    .map_err(|e| CoreError::AttachmentUnavailable(e.to_string()))?;
                files.push(kring_fhir::File {
                    content_type: attachment.mime.clone().unwrap_or_else(|| "application/octet-stream".into()),
                    filename: attachment.filename,
                    data,
                });
            }
            messages.push(kring_fhir::Message {
                event_id: event_id.to_string(),
                sender: event.sender().to_string(),
                sent_ms: i64::from(event.timestamp().0),
                text: crate::attachment::display_body(message.msgtype(), &listed),
                in_reply_to: event.content().in_reply_to().map(|r| r.event_id.to_string()),
                files,
            });
        }
        let conversation = kring_fhir::Conversation {
            room_id: room_id.to_owned(),
            space_id,
            subject: summary.subject,
            archived: summary.status == ConversationStatus::Archived,
            client: kring_fhir::Client { pseudo_bsn: client.pseudo_bsn },
            care_team,
            participants: summary.participants.into_iter().map(|m| m.user_id).collect(),
            messages,
        };
        Ok((conversation, undecryptable))
    }

    /// The conversation's archive as a FHIR transaction `Bundle`, and what it holds.
    pub async fn conversation_archive(&self, room_id: &str) -> Result<(Value, ArchiveReceipt), CoreError> {
        let (conversation, undecryptable) = self.conversation_record(room_id).await?;
        let bundle = kring_fhir::conversation_bundle(&conversation).map_err(fhir_err)?;
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let receipt = ArchiveReceipt {
            room_id: room_id.to_owned(),
            messages: count(conversation.messages.len()),
            files: count(conversation.messages.iter().map(|m| m.files.len()).sum()),
            resources: count(bundle["entry"].as_array().map_or(0, Vec::len)),
            undecryptable,
        };
        if undecryptable > 0 {
            warn!(undecryptable, "messages this device cannot decrypt are not in the archive");
        }
        self.audit_detail("export_conversation", Some(room_id), Some(&format!("{} resources", receipt.resources)))
            .await;
        Ok((bundle, receipt))
    }

    /// Archives the conversation at the information system's FHIR endpoint
    /// (its base URL), as one transaction. Archiving again updates what the
    /// last archive wrote.
    pub async fn archive_conversation(&self, room_id: &str, endpoint: &url::Url) -> Result<ArchiveReceipt, CoreError> {
        let (bundle, receipt) = self.conversation_archive(room_id).await?;
        let result = self.post_fhir(endpoint, &bundle).await;
        let outcome = if result.is_ok() { 0 } else { 4 };
        self.record_audit(
            "archive_to_information_system",
            Some(room_id),
            Some(&format!("{} resources to {endpoint}", receipt.resources)),
            outcome,
        )
        .await;
        let answer = result?;
        // A transaction is all or nothing; check each entry all the same.
        let failed: Vec<String> = answer["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["response"]["status"].as_str())
            .filter(|s| !s.starts_with('2'))
            .map(str::to_owned)
            .collect();
        if !failed.is_empty() {
            return Err(CoreError::ArchiveEndpointRefused(format!("entries answered {}", failed.join(", "))));
        }
        self.note_archived(room_id).await;
        info!(resources = receipt.resources, messages = receipt.messages, "conversation archived");
        Ok(receipt)
    }

    async fn post_fhir(&self, endpoint: &url::Url, bundle: &Value) -> Result<Value, CoreError> {
        let answer = self
            .client
            .http_client()
            .post(endpoint.clone())
            .header("Content-Type", "application/fhir+json")
            .json(bundle)
            .timeout(FHIR_TIMEOUT)
            .send()
            .await
            .map_err(|e| CoreError::ArchiveEndpointUnreachable(e.to_string()))?;
        let status = answer.status();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(CoreError::ArchiveEndpointRefused(format!("{status}: {}", issue_text(&body))));
        }
        Ok(body)
    }

    async fn get_fhir(&self, url: url::Url) -> Result<Value, CoreError> {
        let answer = self
            .client
            .http_client()
            .get(url)
            .header("Accept", "application/fhir+json")
            .timeout(FHIR_TIMEOUT)
            .send()
            .await
            .map_err(|e| CoreError::ArchiveEndpointUnreachable(e.to_string()))?;
        let status = answer.status();
        let body: Value = answer.json().await.map_err(|e| CoreError::FhirInvalid(e.to_string()))?;
        if !status.is_success() {
            return Err(CoreError::ArchiveEndpointRefused(format!("{status}: {}", issue_text(&body))));
        }
        Ok(body)
    }

    /// Takes up the information system's new `CommunicationRequest`s (draft
    /// or active, not yet naming a Kring conversation): each starts a
    /// conversation in the care team of its client, and is written back
    /// naming it. One that cannot be taken up is reported and left as it is.
    pub async fn import_communication_requests(&self, endpoint: &url::Url) -> Result<ImportReport, CoreError> {
        let search = under(endpoint, "CommunicationRequest?status=draft,active&_count=100")?;
        let found = self.get_fhir(search).await?;
        let mut report = ImportReport::default();
        for entry in found["entry"].as_array().into_iter().flatten() {
            let request = &entry["resource"];
            let request_id = request["id"].as_str().unwrap_or_default().to_owned();
            match self.import_one(endpoint, request).await {
                Ok(Some(imported)) => report.started.push(imported),
                Ok(None) => report.already.push(request_id),
                Err(e) => {
                    warn!(code = ?e.code(), "a CommunicationRequest was not taken up");
                    report.refused.push(RefusedRequest { request_id, code: e.code(), message: e.to_string() });
                }
            }
        }
        Ok(report)
    }

    async fn import_one(&self, endpoint: &url::Url, request: &Value) -> Result<Option<ImportedRequest>, CoreError> {
        let thread = kring_fhir::read_communication_request(request).map_err(fhir_err)?;
        let request_id = thread.id.clone().ok_or(CoreError::FhirInvalid("the request has no id".into()))?;
        if thread.conversation.is_some() {
            return Ok(None);
        }
        // Started before, but not written back (a crash, the server away):
        // only the write-back is left to do.
        let setting = format!("fhir_import:{endpoint}|{request_id}");
        let room_id = match self.store.setting(&setting).await.map_err(store_err)? {
            Some(room_id) => room_id,
            None => {
                let new = self.conversation_for(endpoint, &thread).await?;
                let room_id = self.start_conversation(&new).await?;
                self.store.set_setting(&setting, &room_id).await.map_err(store_err)?;
                self.audit_detail("import_communication_request", Some(&room_id), Some(&request_id)).await;
                room_id
            }
        };
        let marked = kring_fhir::mark_imported(request, &room_id);
        let url = under(endpoint, &format!("CommunicationRequest/{request_id}"))?;
        let answer = self
            .client
            .http_client()
            .put(url)
            .header("Content-Type", "application/fhir+json")
            .json(&marked)
            .timeout(FHIR_TIMEOUT)
            .send()
            .await
            .map_err(|e| CoreError::ArchiveEndpointUnreachable(e.to_string()))?;
        if !answer.status().is_success() {
            let status = answer.status();
            let body: Value = answer.json().await.unwrap_or(Value::Null);
            return Err(CoreError::ArchiveEndpointRefused(format!("{status}: {}", issue_text(&body))));
        }
        Ok(Some(ImportedRequest { request_id, room_id, subject: thread.subject }))
    }

    /// The conversation a request asks for: the client's care team on this
    /// device, the recipients found in it, the files fetched.
    async fn conversation_for(&self, endpoint: &url::Url, t: &IncomingThread) -> Result<NewConversation, CoreError> {
        let pseudo_bsn = match (&t.pseudo_bsn, &t.patient_reference) {
            (Some(p), _) => p.clone(),
            (None, Some(reference)) => {
                let patient = self.get_fhir(under(endpoint, reference)?).await?;
                patient["identifier"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|i| i["system"] == kring_fhir::systems::PSEUDO_BSN)
                    .and_then(|i| i["value"].as_str())
                    .map(str::to_owned)
                    .ok_or_else(|| CoreError::FhirInvalid(format!("{reference} has no pseudo-BSN")))?
            }
            (None, None) => return Err(CoreError::FhirInvalid("the request names no client".into())),
        };
        let link = self
            .store
            .client_links()
            .await
            .map_err(store_err)?
            .into_iter()
            .find(|l| l.pseudo_bsn == pseudo_bsn)
            .ok_or(CoreError::FhirClientUnknown)?;
        let members = crate::care_team::members_of(&self.joined_room(&link.space_id)?).await?;
        let me = self.own_user_id()?.to_string();
        let mut recipients: Vec<String> = Vec::new();
        for r in &t.recipients {
            let found = self.recipient_in(r, &members, &me).await?;
            for user in found {
                if !recipients.contains(&user) {
                    recipients.push(user);
                }
            }
        }
        let with_client =
            recipients.iter().any(|u| members.iter().any(|m| &m.user_id == u && !m.role.is_professional()));
        let mut attachments = Vec::new();
        for file in &t.files {
            attachments.push(self.fetch_file(endpoint, file).await?);
        }
        Ok(NewConversation {
            space_id: link.space_id,
            subject: t.subject.clone(),
            body: t.body.clone(),
            recipients,
            kind: if with_client { ConversationKind::ClientInclusive } else { ConversationKind::Professional },
            attachments,
            sensitive: false,
        })
    }

    /// The care-team members a recipient stands for: a CareTeam is every
    /// professional in it; a person is matched on Matrix ID, UZI or their
    /// directory resource.
    async fn recipient_in(&self, r: &Recipient, members: &[crate::Member], me: &str) -> Result<Vec<String>, CoreError> {
        let named =
            || r.reference.clone().or_else(|| r.identifier.as_ref().map(|(_, v)| v.clone())).unwrap_or_default();
        if r.resource_type == "CareTeam" {
            return Ok(members
                .iter()
                .filter(|m| m.joined && m.role.is_professional() && m.user_id != me)
                .map(|m| m.user_id.clone())
                .collect());
        }
        for m in members {
            let by_id =
                r.identifier.as_ref().is_some_and(|(s, v)| s == kring_fhir::systems::MATRIX_ID && *v == m.user_id);
            let binding = self.store.identity_binding(&m.user_id).await.map_err(store_err)?;
            let by_uzi = r
                .identifier
                .as_ref()
                .is_some_and(|(s, v)| s == kring_fhir::systems::UZI && binding.as_ref().is_some_and(|b| b.uzi == *v));
            let by_resource = r.reference.as_deref().is_some_and(|reference| {
                binding.as_ref().is_some_and(|b| {
                    [&b.practitioner_url, &b.practitioner_role_url]
                        .into_iter()
                        .flatten()
                        .any(|url| url == reference || url.ends_with(&format!("/{reference}")))
                })
            });
            if by_id || by_uzi || by_resource {
                return Ok(vec![m.user_id.clone()]);
            }
        }
        Err(CoreError::FhirRecipientUnknown(named()))
    }

    async fn fetch_file(&self, endpoint: &url::Url, file: &IncomingFile) -> Result<NewAttachment, CoreError> {
        let (url, filename, content_type) = match file {
            IncomingFile::Inline(f) => {
                return Ok(NewAttachment {
                    filename: f.filename.clone(),
                    mime: Some(f.content_type.clone()),
                    data: f.data.clone(),
                });
            }
            IncomingFile::At { url, filename, content_type } => (url, filename, content_type),
        };
        let url = if url.starts_with("http") {
            url::Url::parse(url).map_err(|e| CoreError::FhirInvalid(e.to_string()))?
        } else {
            under(endpoint, url)?
        };
        let answer = self
            .client
            .http_client()
            .get(url)
            .timeout(FHIR_TIMEOUT)
            .send()
            .await
            .map_err(|e| CoreError::ArchiveEndpointUnreachable(e.to_string()))?;
        if !answer.status().is_success() {
            return Err(CoreError::AttachmentUnavailable(format!("{filename}: {}", answer.status())));
        }
        let is_fhir =
            answer.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("fhir+json"));
        let bytes = answer.bytes().await.map_err(|e| CoreError::AttachmentUnavailable(e.to_string()))?;
        // A FHIR server answers a Binary read in JSON unless asked for the
        // content type: the data is then inside.
        let data = if is_fhir {
            let binary: Value = serde_json::from_slice(&bytes).map_err(|e| CoreError::FhirInvalid(e.to_string()))?;
            let data = binary["data"].as_str().unwrap_or_default();
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|e| CoreError::FhirInvalid(format!("{filename}: {e}")))?
        } else {
            bytes.to_vec()
        };
        Ok(NewAttachment { filename: filename.clone(), mime: content_type.clone(), data })
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
