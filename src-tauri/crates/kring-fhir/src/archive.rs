//! A conversation as one FHIR transaction for the information system.
//!
//! Every entry is a conditional write keyed on a Matrix ID, so posting the
//! archive of the same conversation again updates it (a reply added since,
//! the status now archived) and never duplicates a resource. The client is
//! a conditional create on the pseudo-BSN: the information system's own
//! Patient is used where it has one.

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::{Conversation, FhirError, File, Message, Party, PartyKind, systems};

/// The transaction `Bundle` that archives `c`: Patient, the people without
/// a directory resource, CareTeam, CommunicationRequest (the subject, the
/// first message and its files) and a Communication per later message.
pub fn conversation_bundle(c: &Conversation) -> Result<Value, FhirError> {
    let (first, replies) = c.messages.split_first().ok_or(FhirError::NoMessages)?;
    let patient = Entry::new(format!("patient|{}", c.client.pseudo_bsn));
    let team = Entry::new(format!("care-team|{}", c.space_id));
    let thread = Entry::new(format!("conversation|{}", c.room_id));
    let mut entries = vec![json!({
        "fullUrl": patient.full_url,
        "resource": {
            "resourceType": "Patient",
            "identifier": [{ "system": systems::PSEUDO_BSN, "value": c.client.pseudo_bsn }],
        },
        "request": {
            "method": "POST",
            "url": "Patient",
            "ifNoneExist": format!("identifier={}", search_token(systems::PSEUDO_BSN, &c.client.pseudo_bsn)),
        },
    })];
    let patient_ref = json!({ "reference": patient.full_url, "type": "Patient" });

    // People the directory does not know get a resource of their own here.
    entries.extend(organisation_entries(c));
    for party in &c.care_team {
        if let Some(entry) = person_entry(party, &patient_ref) {
            entries.push(entry);
        }
    }
    let reference = |user_id: &str| reference_of(c, user_id, &patient_ref);

    entries.push(conditional_put(
        &team,
        "CareTeam",
        systems::CARE_TEAM,
        &c.space_id,
        json!({
            "resourceType": "CareTeam",
            "identifier": [{ "system": systems::CARE_TEAM, "value": c.space_id }],
            "status": "active",
            "subject": patient_ref,
            "participant": c.care_team.iter().map(|p| participant(p, reference(&p.user_id))).collect::<Vec<_>>(),
        }),
    ));

    let requester = reference(&first.sender);
    let recipients: Vec<Value> = c.participants.iter().filter(|p| **p != first.sender).map(|p| reference(p)).collect();
    entries.push(conditional_put(
        &thread,
        "CommunicationRequest",
        systems::CONVERSATION,
        &c.room_id,
        json!({
            "resourceType": "CommunicationRequest",
            "identifier": [{ "system": systems::CONVERSATION, "value": c.room_id }],
            // FHIR's request statuses: a thread still talked in is active;
            // an archived conversation is completed.
            "status": if c.archived { "completed" } else { "active" },
            "subject": patient_ref,
            // R4's CommunicationRequest has no topic: the subject is why
            // the conversation was started.
            "reasonCode": [{ "text": c.subject }],
            "payload": payload(first),
            "authoredOn": instant(first.sent_ms)?,
            "requester": requester,
            "recipient": recipients,
        }),
    ));

    entries.extend(binaries(first, &thread.full_url));
    let thread_ref = json!({ "reference": thread.full_url, "type": "CommunicationRequest" });
    let entry_of = |m: &Message| Entry::new(format!("message|{}", m.event_id));
    for (i, message) in replies.iter().enumerate() {
        // An explicit reply answers its message; any other answers the one
        // before it. A reply to the first message answers the thread itself.
        let answered = message
            .in_reply_to
            .as_deref()
            .and_then(|id| replies.iter().find(|m| m.event_id == id))
            .or_else(|| if message.in_reply_to.is_some() { None } else { i.checked_sub(1).map(|j| &replies[j]) })
            .filter(|m| m.event_id != message.event_id);
        let mut resource = json!({
            "resourceType": "Communication",
            "identifier": [{ "system": systems::MESSAGE, "value": message.event_id }],
            "partOf": [thread_ref],
            "status": "completed",
            "subject": patient_ref,
            "topic": { "text": c.subject },
            "sent": instant(message.sent_ms)?,
            // Everyone else in the conversation, by name.
            "recipient": c.participants.iter().filter(|p| **p != message.sender).map(|p| reference(p)).collect::<Vec<_>>(),
            "sender": reference(&message.sender),
            "payload": payload(message),
        });
        if let Some(answered) = answered {
            resource["inResponseTo"] = json!([{ "reference": entry_of(answered).full_url, "type": "Communication" }]);
        }
        let entry = entry_of(message);
        entries.extend(binaries(message, &entry.full_url));
        entries.push(conditional_put(&entry, "Communication", systems::MESSAGE, &message.event_id, resource));
    }
    Ok(json!({ "resourceType": "Bundle", "type": "transaction", "entry": entries }))
}

/// A bundle-local identity: a name-based UUID, so the same conversation
/// gets the same placeholders each time it is archived.
struct Entry {
    full_url: String,
}

impl Entry {
    fn new(key: String) -> Self {
        let mut b: [u8; 20] = Sha1::digest(key.as_bytes()).into();
        // RFC 9562 version 5 (SHA-1, name-based) and variant bits.
        b[6] = (b[6] & 0x0f) | 0x50;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b[..16].iter().map(|x| format!("{x:02x}")).collect();
        let full_url =
            format!("urn:uuid:{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]);
        Self { full_url }
    }
}

fn conditional_put(entry: &Entry, resource_type: &str, system: &str, value: &str, resource: Value) -> Value {
    json!({
        "fullUrl": entry.full_url,
        "resource": resource,
        "request": { "method": "PUT", "url": format!("{resource_type}?identifier={}", search_token(system, value)) },
    })
}

/// A token search value, percent-encoded for a URL's query.
fn search_token(system: &str, value: &str) -> String {
    let mut out = String::new();
    for (i, part) in [system, value].into_iter().enumerate() {
        if i > 0 {
            out.push('|');
        }
        for b in part.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// The resource someone gets in the archive. A practitioner is a
/// conditional create on their UZI (else Matrix ID): where the information
/// system has them already, its own record is used; else one is made that
/// names their directory entry. A related person is a conditional update on
/// the Matrix ID: Kring is where they are known.
fn person_entry(party: &Party, patient_ref: &Value) -> Option<Value> {
    let entry = Entry::new(format!("party|{}", party.user_id));
    let matrix_id = json!({ "system": systems::MATRIX_ID, "value": party.user_id });
    let name = json!([{ "text": party.display_name }]);
    match party.kind {
        PartyKind::Practitioner => {
            let mut identifier = vec![matrix_id];
            if let Some(uzi) = &party.uzi {
                identifier.push(json!({ "system": systems::UZI, "value": uzi }));
            }
            if let Some(url) = &party.directory_url {
                identifier.push(json!({ "system": systems::URI, "value": url }));
            }
            let key = match &party.uzi {
                Some(uzi) => search_token(systems::UZI, uzi),
                None => search_token(systems::MATRIX_ID, &party.user_id),
            };
            Some(json!({
                "fullUrl": entry.full_url,
                "resource": { "resourceType": "Practitioner", "identifier": identifier, "name": name },
                "request": { "method": "POST", "url": "Practitioner", "ifNoneExist": format!("identifier={key}") },
            }))
        }
        PartyKind::RelatedPerson => {
            let mut resource = json!({
                "resourceType": "RelatedPerson",
                "identifier": [matrix_id],
                "active": true,
                "patient": patient_ref,
                "name": name,
            });
            if let Some(relation) = &party.relation {
                resource["relationship"] = json!([{ "text": relation }]);
            }
            Some(conditional_put(&entry, "RelatedPerson", systems::MATRIX_ID, &party.user_id, resource))
        }
        // The client's own account is the Patient already in the bundle.
        PartyKind::Patient => None,
    }
}

/// The organisations people act for, once each: a conditional create on
/// the URA, naming the directory's Organization.
fn organisation_entries(c: &Conversation) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for party in &c.care_team {
        let Some(ura) = &party.ura else { continue };
        if seen.contains(ura) {
            continue;
        }
        seen.push(ura.clone());
        let mut identifier = vec![json!({ "system": systems::URA, "value": ura })];
        if let Some(url) = &party.organisation_url {
            identifier.push(json!({ "system": systems::URI, "value": url }));
        }
        let mut resource = json!({ "resourceType": "Organization", "identifier": identifier });
        if let Some(name) = &party.organisation {
            resource["name"] = json!(name);
        }
        out.push(json!({
            "fullUrl": Entry::new(format!("organisation|{ura}")).full_url,
            "resource": resource,
            "request": {
                "method": "POST",
                "url": "Organization",
                "ifNoneExist": format!("identifier={}", search_token(systems::URA, ura)),
            },
        }));
    }
    out
}

/// How the archive points at someone: the entry it carries for them.
fn reference_of(c: &Conversation, user_id: &str, patient_ref: &Value) -> Value {
    let party = c.care_team.iter().find(|p| p.user_id == user_id);
    let Some(party) = party else {
        // Left the care team since: a Matrix ID is all that is known.
        return json!({ "type": "Practitioner", "identifier": { "system": systems::MATRIX_ID, "value": user_id } });
    };
    if party.kind == PartyKind::Patient {
        return patient_ref.clone();
    }
    json!({
        "reference": Entry::new(format!("party|{}", party.user_id)).full_url,
        "type": party.kind.resource_type(),
        "display": party.display_name,
    })
}

fn participant(party: &Party, member: Value) -> Value {
    let mut p = json!({ "member": member });
    if party.organisation.is_some() || party.ura.is_some() {
        let mut org = json!({ "type": "Organization" });
        if let Some(ura) = &party.ura {
            org["reference"] = json!(Entry::new(format!("organisation|{ura}")).full_url);
        }
        if let Some(name) = &party.organisation {
            org["display"] = json!(name);
        }
        p["onBehalfOf"] = org;
    }
    if let Some(role) = party.function.as_ref().or(party.relation.as_ref()) {
        p["role"] = json!([{ "text": role }]);
    }
    p
}

/// The message's text and its files. A file's data goes in a `Binary` of
/// its own (see [`binaries`]) that the attachment points at, as OZO's
/// attachments point at a URL: the thread stays small however large its files.
fn payload(m: &Message) -> Vec<Value> {
    let mut payload = Vec::new();
    if !m.text.trim().is_empty() {
        payload.push(json!({ "contentString": m.text }));
    }
    payload.extend(
        m.files
            .iter()
            .enumerate()
            .map(|(i, f)| json!({ "contentAttachment": attachment(f, &binary_id(m, i), m.sent_ms) })),
    );
    payload
}

/// A file's `Binary`: one id per message and position, so archiving again
/// writes the same one.
fn binary_id(m: &Message, index: usize) -> String {
    let digest: [u8; 20] = Sha1::digest(format!("file|{}|{index}", m.event_id).as_bytes()).into();
    let hex: String = digest.iter().map(|x| format!("{x:02x}")).collect();
    format!("kring-{hex}")
}

/// The `Binary` entries of a message's files, readable in the terms of
/// what they belong to (`securityContext`).
fn binaries(m: &Message, owner: &str) -> Vec<Value> {
    m.files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let id = binary_id(m, i);
            json!({
                "fullUrl": Entry::new(format!("file|{}|{i}", m.event_id)).full_url,
                "resource": {
                    "resourceType": "Binary",
                    "id": id,
                    "contentType": f.content_type,
                    "securityContext": { "reference": owner },
                    "data": STANDARD.encode(&f.data),
                },
                "request": { "method": "PUT", "url": format!("Binary/{id}") },
            })
        })
        .collect()
}

fn attachment(f: &File, binary_id: &str, sent_ms: i64) -> Value {
    let mut a = json!({
        "contentType": f.content_type,
        "url": format!("Binary/{binary_id}"),
        "title": f.filename,
        // FHIR's Attachment.hash is the SHA-1 of the data, base64.
        "hash": STANDARD.encode(Sha1::digest(&f.data)),
    });
    // unsignedInt: a file of 4 GiB or more goes without its size.
    if let Ok(size) = u32::try_from(f.data.len()) {
        a["size"] = json!(size);
    }
    if let Ok(creation) = instant(sent_ms) {
        a["creation"] = json!(creation);
    }
    a
}

fn instant(ms: i64) -> Result<String, FhirError> {
    let at = jiff::Timestamp::from_millisecond(ms)
        .map_err(|e| FhirError::Invalid { field: "origin_server_ts", why: e.to_string() })?;
    Ok(at.strftime("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Client;

    pub(crate) fn practitioner(user: &str, name: &str, directory: Option<&str>) -> Party {
        Party {
            user_id: user.into(),
            display_name: name.into(),
            kind: PartyKind::Practitioner,
            directory_url: directory.map(Into::into),
            uzi: Some(format!("9001{}", user.len())),
            ura: Some("90000101".into()),
            organisation: Some("Zorggroep A".into()),
            organisation_url: Some("https://dir-a.example/fhir/Organization/a".into()),
            function: Some("Wijkverpleegkundige".into()),
            relation: None,
        }
    }

    pub(crate) fn example() -> Conversation {
        let file = |n: usize| File {
            filename: format!("foto-{n}.png"),
            content_type: "image/png".into(),
            data: vec![0x89, b'P', b'N', b'G', u8::try_from(n).unwrap()],
        };
        let message = |id: &str, sender: &str, at: i64, text: &str, reply: Option<&str>, files: usize| Message {
            event_id: id.into(),
            sender: sender.into(),
            sent_ms: at,
            text: text.into(),
            in_reply_to: reply.map(Into::into),
            files: (0..files).map(file).collect(),
        };
        Conversation {
            room_id: "!gesprek:zorg-a.example".into(),
            space_id: "!team:zorg-a.example".into(),
            subject: "Wondzorg na ontslag".into(),
            archived: false,
            client: Client { pseudo_bsn: "90000000202".into() },
            care_team: vec![
                practitioner("@eva:zorg-a.example", "Eva de Wit", Some("https://dir-a.example/fhir/Practitioner/eva")),
                practitioner("@ahmed:zorg-b.example", "Ahmed Yilmaz", None),
                Party {
                    user_id: "@marieke:zorgplatform.example".into(),
                    display_name: "Marieke Kok".into(),
                    kind: PartyKind::RelatedPerson,
                    directory_url: None,
                    uzi: None,
                    ura: None,
                    organisation: None,
                    organisation_url: None,
                    function: None,
                    relation: Some("mantelzorger".into()),
                },
            ],
            participants: vec![
                "@eva:zorg-a.example".into(),
                "@ahmed:zorg-b.example".into(),
                "@marieke:zorgplatform.example".into(),
            ],
            messages: vec![
                message("$1", "@eva:zorg-a.example", 1_796_000_000_000, "Hoe gaat het met de wond?", None, 5),
                message("$2", "@marieke:zorgplatform.example", 1_796_000_060_000, "Rustig, wat roder.", None, 0),
                message("$3", "@ahmed:zorg-b.example", 1_796_000_120_000, "Ik kijk morgen.", Some("$2"), 1),
                message("$4", "@eva:zorg-a.example", 1_796_000_180_000, "Dank.", Some("$1"), 0),
            ],
        }
    }

    fn resources<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
        bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["resource"])
            .filter(|r| r["resourceType"] == kind)
            .collect()
    }

    #[test]
    fn the_first_message_opens_the_thread_and_each_later_one_is_a_communication_in_it() {
        let bundle = conversation_bundle(&example()).unwrap();
        assert_eq!(bundle["type"], "transaction");
        let request = resources(&bundle, "CommunicationRequest")[0];
        assert_eq!(request["reasonCode"][0]["text"], "Wondzorg na ontslag");
        assert_eq!(request["status"], "active");
        assert_eq!(request["payload"][0]["contentString"], "Hoe gaat het met de wond?");
        assert_eq!(request["payload"].as_array().unwrap().len(), 6, "text and five files");
        assert_eq!(request["requester"]["reference"], Entry::new("party|@eva:zorg-a.example".into()).full_url.as_str());
        assert_eq!(request["recipient"].as_array().unwrap().len(), 2);
        let replies = resources(&bundle, "Communication");
        assert_eq!(replies.len(), 3);
        let url_of = |event: &str| Entry::new(format!("message|{event}")).full_url;
        // $3 explicitly answers $2; $2 answers nothing (the thread); $4 answers
        // the first message, which is the thread, so nothing either.
        assert!(replies[0].get("inResponseTo").is_none());
        assert_eq!(replies[1]["inResponseTo"][0]["reference"], url_of("$2").as_str());
        assert!(replies[2].get("inResponseTo").is_none());
        assert_eq!(replies[1]["sender"]["type"], "Practitioner");
        assert_eq!(replies[0]["sender"]["type"], "RelatedPerson");
        assert_eq!(replies[0]["sent"], "2026-11-30T00:54:20.000+00:00");
        let file = &replies[1]["payload"][1]["contentAttachment"];
        assert_eq!((file["contentType"].as_str(), file["size"].as_u64()), (Some("image/png"), Some(5)));
        let binary = resources(&bundle, "Binary")
            .into_iter()
            .find(|b| format!("Binary/{}", b["id"].as_str().unwrap()) == file["url"].as_str().unwrap())
            .expect("the file's Binary");
        assert_eq!(STANDARD.decode(binary["data"].as_str().unwrap()).unwrap(), vec![0x89, b'P', b'N', b'G', 0]);
        assert_eq!(resources(&bundle, "Binary").len(), 6, "five with the first message, one with $3");
    }

    #[test]
    fn without_an_explicit_reply_a_message_answers_the_one_before() {
        let mut c = example();
        c.messages.iter_mut().for_each(|m| m.in_reply_to = None);
        let bundle = conversation_bundle(&c).unwrap();
        let replies = resources(&bundle, "Communication");
        let url_of = |event: &str| Entry::new(format!("message|{event}")).full_url;
        assert!(replies[0].get("inResponseTo").is_none());
        assert_eq!(replies[1]["inResponseTo"][0]["reference"], url_of("$2").as_str());
        assert_eq!(replies[2]["inResponseTo"][0]["reference"], url_of("$3").as_str());
    }

    #[test]
    fn the_client_is_a_pseudonym_and_people_without_a_directory_entry_get_a_stub() {
        let bundle = conversation_bundle(&example()).unwrap();
        let text = bundle.to_string();
        let patient = resources(&bundle, "Patient")[0];
        assert_eq!(patient.as_object().unwrap().len(), 2, "resourceType and identifier only: {patient}");
        assert_eq!(patient["identifier"][0]["value"], "90000000202");
        let patient_entry = &bundle["entry"][0];
        assert_eq!(
            patient_entry["request"]["ifNoneExist"],
            "identifier=http%3A%2F%2Ffhir.nl%2Ffhir%2FNamingSystem%2Fpseudo-bsn|90000000202"
        );
        // Each practitioner once, with UZI; Eva's names her directory entry.
        let practitioners = resources(&bundle, "Practitioner");
        assert_eq!(practitioners.len(), 2);
        assert_eq!(practitioners[0]["identifier"][2]["value"], "https://dir-a.example/fhir/Practitioner/eva");
        assert_eq!(practitioners[1]["identifier"].as_array().unwrap().len(), 2, "no directory entry for Ahmed");
        let eva = bundle["entry"].as_array().unwrap().iter().find(|e| e["resource"] == *practitioners[0]).unwrap();
        assert_eq!(
            eva["request"]["ifNoneExist"],
            format!(
                "identifier={}|9001{}",
                "http%3A%2F%2Ffhir.nl%2Ffhir%2FNamingSystem%2Fuzi-nr-pers",
                "@eva:zorg-a.example".len()
            )
        );
        // Both practitioners act for one organisation: one Organization.
        assert_eq!(resources(&bundle, "Organization").len(), 1);
        let related = resources(&bundle, "RelatedPerson")[0];
        assert_eq!(related["relationship"][0]["text"], "mantelzorger");
        assert_eq!(related["patient"]["reference"], patient_entry["fullUrl"]);
        let team = resources(&bundle, "CareTeam")[0];
        assert_eq!(team["participant"].as_array().unwrap().len(), 3);
        assert_eq!(team["participant"][0]["onBehalfOf"]["display"], "Zorggroep A");
        assert!(!text.contains("Kok\",\"kind"), "no internal field names");
    }

    #[test]
    fn archiving_again_writes_the_same_resources() {
        let mut c = example();
        let first = conversation_bundle(&c).unwrap();
        c.archived = true;
        let again = conversation_bundle(&c).unwrap();
        let keys = |b: &Value| -> Vec<(String, String)> {
            b["entry"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (e["fullUrl"].as_str().unwrap().into(), e["request"]["url"].as_str().unwrap().into()))
                .collect()
        };
        assert_eq!(keys(&first), keys(&again));
        assert_eq!(resources(&again, "CommunicationRequest")[0]["status"], "completed");
        let put = &first["entry"].as_array().unwrap().last().unwrap()["request"];
        assert_eq!(first["entry"].as_array().unwrap().len(), again["entry"].as_array().unwrap().len());
        assert_eq!(put["method"], "PUT");
        assert_eq!(put["url"], "Communication?identifier=urn%3Akring%3Amessage|%244");
    }

    #[test]
    fn a_conversation_without_messages_is_refused() {
        let mut c = example();
        c.messages.clear();
        assert_eq!(conversation_bundle(&c).unwrap_err(), FhirError::NoMessages);
    }
}

/// The archive next to the OZO examples in `../shared/fixtures/ozo` (see its
/// SOURCES.md), field by field. They run when that folder is present (set
/// `KRING_FIXTURES` elsewhere); `scripts/test` says when they did not.
#[cfg(test)]
mod ozo {
    use std::{collections::BTreeMap, path::PathBuf};

    use serde_json::Value;

    use super::{conversation_bundle, tests::example};

    fn fixtures() -> Option<PathBuf> {
        let dir = std::env::var_os("KRING_FIXTURES")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/fixtures"));
        dir.join("ozo").is_dir().then(|| dir.join("ozo"))
    }

    /// Every field path with its JSON kind; array positions folded.
    fn shape(v: &Value, at: &str, out: &mut BTreeMap<String, &'static str>) {
        let kind = match v {
            Value::Object(map) => {
                for (k, child) in map {
                    shape(child, &if at.is_empty() { k.clone() } else { format!("{at}.{k}") }, out);
                }
                "object"
            }
            Value::Array(items) => {
                items.iter().for_each(|child| shape(child, &format!("{at}[]"), out));
                "array"
            }
            Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Bool(_) => "boolean",
            Value::Null => "null",
        };
        if !at.is_empty() {
            out.insert(at.to_owned(), kind);
        }
    }

    /// Reference types in the example, by field.
    fn reference_types(v: &Value) -> BTreeMap<String, String> {
        let mut shapes = BTreeMap::new();
        shape(v, "", &mut shapes);
        let mut out = BTreeMap::new();
        for path in shapes.keys().filter(|p| p.ends_with(".type")) {
            let mut at = v;
            for part in path.trim_end_matches(".type").split('.') {
                at = match part.strip_suffix("[]") {
                    Some(p) => &at[p][0],
                    None => &at[part],
                };
            }
            if let Some(t) = at["type"].as_str() {
                out.insert(path.clone(), t.to_owned());
            }
        }
        out
    }

    /// The OZO example's fields that the archive leaves out on purpose.
    /// `meta` and `id` are the server's; the client's and the people's
    /// names stay out of references to the client (pseudonym only).
    const LEFT_OUT: &[&str] = &["id", "meta", "subject.display"];

    fn compare(example: &Value, ours: &Value, allowed_types: &[(&str, &[&str])]) {
        let (mut want, mut got) = (BTreeMap::new(), BTreeMap::new());
        shape(example, "", &mut want);
        shape(ours, "", &mut got);
        for (path, kind) in &want {
            if LEFT_OUT.iter().any(|l| path == l || path.starts_with(&format!("{l}."))) {
                continue;
            }
            assert_eq!(got.get(path), Some(kind), "{}: OZO has {path} ({kind}); ours: {ours:#}", example["id"]);
        }
        for (path, t) in reference_types(ours) {
            if let Some((_, allowed)) = allowed_types.iter().find(|(p, _)| *p == path) {
                assert!(allowed.contains(&t.as_str()), "{path} is a {t}, OZO allows {allowed:?}");
            }
        }
        for (path, t) in reference_types(example) {
            let ours = reference_types(ours);
            if let Some(our) = ours.get(&path) {
                let allowed = allowed_types.iter().find(|(p, _)| *p == path).map(|(_, a)| *a).unwrap_or_default();
                assert!(our == &t || allowed.contains(&our.as_str()), "{path}: OZO {t}, ours {our}");
            }
        }
    }

    fn read(dir: &std::path::Path, name: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
    }

    #[test]
    fn the_archive_has_every_field_of_the_ozo_examples() {
        let Some(dir) = fixtures() else { return eprintln!("no fixtures folder: skipped") };
        let bundle = conversation_bundle(&example()).unwrap();
        let of = |kind: &str| -> Vec<&Value> {
            bundle["entry"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| &e["resource"])
                .filter(|r| r["resourceType"] == kind)
                .collect()
        };
        const SENDERS: &[&str] = &["Practitioner", "RelatedPerson", "Patient"];
        const RECIPIENTS: &[&str] = &["Practitioner", "RelatedPerson", "CareTeam", "Patient"];
        // The thread: its text and a file, requester, the care team's people.
        compare(
            &read(&dir, "CommunicationRequest-Thread-Example.json"),
            of("CommunicationRequest")[0],
            &[("subject.type", &["Patient"]), ("requester.type", SENDERS), ("recipient[].type", RECIPIENTS)],
        );
        // A related person's message and a practitioner's.
        let replies = of("Communication");
        for (name, ours) in [
            ("Communication-RelatedPerson-to-CareTeam.json", replies[0]),
            ("Communication-Practitioner-to-Practitioner.json", replies[1]),
        ] {
            compare(
                &read(&dir, name),
                ours,
                &[
                    ("partOf[].type", &["CommunicationRequest"]),
                    ("sender.type", SENDERS),
                    ("recipient[].type", RECIPIENTS),
                ],
            );
        }
        assert_eq!(replies[0]["sender"]["type"], "RelatedPerson");
        assert_eq!(replies[1]["sender"]["type"], "Practitioner");
        // The care team: members with their organisation.
        compare(
            &read(&dir, "CareTeam-H-de-Boer.json"),
            of("CareTeam")[0],
            &[
                ("participant[].member.type", &["Practitioner", "RelatedPerson", "Patient"]),
                ("subject.type", &["Patient"]),
            ],
        );
    }
}
