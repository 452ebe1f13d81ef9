//! A `CommunicationRequest` from an information system, read as the start
//! of a conversation: who it is about, to whom, the subject, the text and
//! the files.

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};

use crate::{FhirError, File, SUBJECT_MAX_CHARS, systems};

/// A file of the request: inline, or at a URL the information system serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IncomingFile {
    Inline(File),
    /// An absolute URL, or one relative to the server (`Binary/x`).
    At {
        url: String,
        filename: String,
        content_type: Option<String>,
    },
}

/// Someone a request is addressed to, as the request names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// `CareTeam`, `Practitioner`, `PractitionerRole`, `RelatedPerson`, `Patient`, ...
    pub resource_type: String,
    /// A literal reference (`Practitioner/x` or an absolute URL), if any.
    pub reference: Option<String>,
    /// A logical one: (system, value).
    pub identifier: Option<(String, String)>,
}

/// What a request asks Kring to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncomingThread {
    /// The request's id at the information system.
    pub id: Option<String>,
    pub subject: String,
    pub body: String,
    pub files: Vec<IncomingFile>,
    /// The client's pseudo-BSN, where the subject names it by identifier.
    pub pseudo_bsn: Option<String>,
    /// Or the Patient's literal reference, to be read for its identifier.
    pub patient_reference: Option<String>,
    pub recipients: Vec<Recipient>,
    /// The conversation Kring already started for it (see [`mark_imported`]).
    pub conversation: Option<String>,
}

/// Reads a request. The subject is `reasonCode.text` (what Kring writes),
/// else the first line of the text, shortened to fit.
pub fn read_communication_request(v: &Value) -> Result<IncomingThread, FhirError> {
    let found = v["resourceType"].as_str().unwrap_or("nothing");
    if found != "CommunicationRequest" {
        return Err(FhirError::WrongResource { expected: "CommunicationRequest", found: found.to_owned() });
    }
    let subject_ref = v.get("subject").filter(|s| s.is_object()).ok_or(FhirError::Missing("subject"))?;
    let pseudo_bsn = identifier_of(subject_ref).filter(|(s, _)| s == systems::PSEUDO_BSN).map(|(_, v)| v);
    let patient_reference = subject_ref["reference"].as_str().map(str::to_owned);
    if pseudo_bsn.is_none() && patient_reference.is_none() {
        return Err(FhirError::Missing("subject.reference or subject.identifier"));
    }

    let payload = v["payload"].as_array().map(Vec::as_slice).unwrap_or_default();
    let texts: Vec<&str> = payload.iter().filter_map(|p| p["contentString"].as_str()).collect();
    let body = texts.join("\n\n");
    if body.trim().is_empty() {
        return Err(FhirError::Missing("payload.contentString"));
    }
    let files = payload
        .iter()
        .filter_map(|p| p.get("contentAttachment"))
        .enumerate()
        .map(|(i, a)| file_of(i, a))
        .collect::<Result<Vec<_>, _>>()?;

    let reason = v["reasonCode"].as_array().and_then(|r| r.iter().find_map(|c| c["text"].as_str()));
    let subject = match reason.map(str::trim).filter(|r| !r.is_empty()) {
        Some(reason) => {
            let length = reason.chars().count();
            if length > SUBJECT_MAX_CHARS {
                return Err(FhirError::SubjectTooLong { length, max: SUBJECT_MAX_CHARS });
            }
            reason.to_owned()
        }
        None => shortened(body.lines().find(|l| !l.trim().is_empty()).unwrap_or_default().trim()),
    };

    let recipients: Vec<Recipient> = v["recipient"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| Recipient {
            resource_type: r["type"]
                .as_str()
                .or_else(|| r["reference"].as_str().and_then(|s| type_of_reference(s)))
                .unwrap_or("unknown")
                .to_owned(),
            reference: r["reference"].as_str().map(str::to_owned),
            identifier: identifier_of(r),
        })
        .collect();
    if recipients.is_empty() {
        return Err(FhirError::Missing("recipient"));
    }
    let conversation = v["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["system"] == systems::CONVERSATION)
        .and_then(|i| i["value"].as_str())
        .map(str::to_owned);
    Ok(IncomingThread {
        id: v["id"].as_str().map(str::to_owned),
        subject,
        body,
        files,
        pseudo_bsn,
        patient_reference,
        recipients,
        conversation,
    })
}

/// The request as it goes back to the information system once its
/// conversation exists: it names the room, and is active.
pub fn mark_imported(request: &Value, room_id: &str) -> Value {
    let mut out = request.clone();
    let identifiers = out["identifier"].as_array().cloned().unwrap_or_default();
    let mut identifiers: Vec<Value> =
        identifiers.into_iter().filter(|i| i["system"] != systems::CONVERSATION).collect();
    identifiers.push(json!({ "system": systems::CONVERSATION, "value": room_id }));
    out["identifier"] = Value::Array(identifiers);
    out["status"] = json!("active");
    out
}

fn identifier_of(reference: &Value) -> Option<(String, String)> {
    let i = reference.get("identifier")?;
    Some((i["system"].as_str()?.to_owned(), i["value"].as_str()?.to_owned()))
}

fn type_of_reference(reference: &str) -> Option<&str> {
    let mut parts = reference.rsplit('/');
    let _id = parts.next()?;
    parts.next().filter(|t| t.chars().next().is_some_and(char::is_uppercase))
}

fn file_of(index: usize, a: &Value) -> Result<IncomingFile, FhirError> {
    let content_type = a["contentType"].as_str().map(str::to_owned);
    let filename = a["title"].as_str().map_or_else(|| format!("bijlage-{}", index + 1), str::to_owned);
    if let Some(data) = a["data"].as_str() {
        let data = STANDARD
            .decode(data.trim())
            .map_err(|e| FhirError::Invalid { field: "payload.contentAttachment.data", why: e.to_string() })?;
        let content_type = content_type.unwrap_or_else(|| "application/octet-stream".into());
        return Ok(IncomingFile::Inline(File { filename, content_type, data }));
    }
    match a["url"].as_str() {
        // Absolute, or relative to the information system (`Binary/x`).
        Some(url) if url.starts_with("https://") || url.starts_with("http://") || url.starts_with("Binary/") => {
            Ok(IncomingFile::At { url: url.to_owned(), filename, content_type })
        }
        Some(url) => Err(FhirError::Invalid {
            field: "payload.contentAttachment.url",
            why: format!("not an http(s) URL: {url}"),
        }),
        None => Err(FhirError::Missing("payload.contentAttachment.data or url")),
    }
}

/// A first line as a subject: cut at a word within the limit, with an ellipsis.
fn shortened(line: &str) -> String {
    if line.chars().count() <= SUBJECT_MAX_CHARS {
        return line.to_owned();
    }
    let room: String = line.chars().take(SUBJECT_MAX_CHARS - 1).collect();
    let cut = room.rfind(' ').filter(|&i| i > SUBJECT_MAX_CHARS / 2).map_or(room.as_str(), |i| &room[..i]);
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Value {
        json!({
            "resourceType": "CommunicationRequest",
            "id": "cr-1",
            "status": "active",
            "subject": { "type": "Patient", "identifier": { "system": systems::PSEUDO_BSN, "value": "90000000202" } },
            "reasonCode": [{ "text": "Medicatie na ontslag" }],
            "payload": [
                { "contentString": "Graag de medicatielijst controleren." },
                { "contentAttachment": { "contentType": "text/plain", "title": "lijst.txt", "data": STANDARD.encode("a, b") } },
                { "contentAttachment": { "contentType": "application/pdf", "url": "https://ecd.example/Binary/9", "title": "brief.pdf" } },
            ],
            "requester": { "reference": "Practitioner/ecd-1", "type": "Practitioner" },
            "recipient": [
                { "reference": "CareTeam/ct-1", "type": "CareTeam" },
                { "reference": "https://dir-a.example/fhir/Practitioner/eva" },
            ],
        })
    }

    #[test]
    fn a_request_gives_subject_text_files_client_and_recipients() {
        let t = read_communication_request(&request()).unwrap();
        assert_eq!(t.subject, "Medicatie na ontslag");
        assert_eq!(t.body, "Graag de medicatielijst controleren.");
        assert_eq!(t.pseudo_bsn.as_deref(), Some("90000000202"));
        assert_eq!(t.files.len(), 2);
        assert!(matches!(&t.files[0], IncomingFile::Inline(f) if f.data == b"a, b" && f.filename == "lijst.txt"));
        assert!(matches!(&t.files[1], IncomingFile::At { url, .. } if url == "https://ecd.example/Binary/9"));
        assert_eq!(t.recipients[0].resource_type, "CareTeam");
        assert_eq!(t.recipients[1].resource_type, "Practitioner", "from the reference");
        assert_eq!(t.conversation, None);
    }

    #[test]
    fn without_a_reason_the_first_line_is_the_subject_shortened_at_a_word() {
        let mut r = request();
        r.as_object_mut().unwrap().remove("reasonCode");
        r["payload"][0]["contentString"] =
            json!("Beste collega's, kunnen jullie de medicatielijst van deze patiënt controleren?\nDank.");
        let t = read_communication_request(&r).unwrap();
        assert!(t.subject.chars().count() <= SUBJECT_MAX_CHARS, "{}", t.subject);
        assert_eq!(t.subject, "Beste collega's, kunnen jullie de medicatielijst…");
    }

    #[test]
    fn bad_requests_are_refused_with_what_is_wrong() {
        let wrong = json!({ "resourceType": "Communication" });
        assert!(matches!(read_communication_request(&wrong), Err(FhirError::WrongResource { .. })));
        let mut long = request();
        long["reasonCode"][0]["text"] = json!("x".repeat(51));
        assert_eq!(read_communication_request(&long), Err(FhirError::SubjectTooLong { length: 51, max: 50 }));
        let mut no_text = request();
        no_text["payload"] = json!([]);
        assert_eq!(read_communication_request(&no_text), Err(FhirError::Missing("payload.contentString")));
        let mut nobody = request();
        nobody["recipient"] = json!([]);
        assert_eq!(read_communication_request(&nobody), Err(FhirError::Missing("recipient")));
        let mut no_patient = request();
        no_patient["subject"] = json!({ "display": "H. de Boer" });
        assert!(matches!(read_communication_request(&no_patient), Err(FhirError::Missing(_))));
        let mut bad_data = request();
        bad_data["payload"][1]["contentAttachment"]["data"] = json!("%%%");
        assert!(matches!(read_communication_request(&bad_data), Err(FhirError::Invalid { .. })));
        let mut file_url = request();
        file_url["payload"][2]["contentAttachment"]["url"] = json!("file:///etc/passwd");
        assert!(matches!(read_communication_request(&file_url), Err(FhirError::Invalid { .. })));
    }

    #[test]
    fn an_imported_request_names_its_conversation_once() {
        let marked = mark_imported(&mark_imported(&request(), "!a:x"), "!b:x");
        let ids = marked["identifier"].as_array().unwrap();
        assert_eq!(ids.len(), 1);
        assert_eq!(read_communication_request(&marked).unwrap().conversation.as_deref(), Some("!b:x"));
    }
}
