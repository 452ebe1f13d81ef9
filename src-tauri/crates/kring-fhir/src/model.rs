//! What a conversation is, as far as its archive needs: plain data, filled
//! by whoever reads the Matrix side (Kring's core, or a gateway).

/// Who someone is in the care team.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartyKind {
    Practitioner,
    RelatedPerson,
    /// The client, signed in with their own account.
    Patient,
}

impl PartyKind {
    pub(crate) fn resource_type(self) -> &'static str {
        match self {
            Self::Practitioner => "Practitioner",
            Self::RelatedPerson => "RelatedPerson",
            Self::Patient => "Patient",
        }
    }
}

/// A member of the care team.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    /// The Matrix ID.
    pub user_id: String,
    pub display_name: String,
    pub kind: PartyKind,
    /// The directory's Practitioner resource (an absolute URL), from the
    /// identity binding: named in the archive's Practitioner.
    pub directory_url: Option<String>,
    pub uzi: Option<String>,
    /// The URA of the organisation they act for.
    pub ura: Option<String>,
    /// The organisation's name, as the directory has it.
    pub organisation: Option<String>,
    /// Its Organization resource in the directory (an absolute URL).
    pub organisation_url: Option<String>,
    /// Practitioners: their function as the directory words it.
    pub function: Option<String>,
    /// Related persons: their relation to the client (e.g. mantelzorger).
    pub relation: Option<String>,
}

/// The client: a pseudonym, never a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub pseudo_bsn: String,
}

/// One attached file, decrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// One message, as it reads now (edits applied; redacted ones left out).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub event_id: String,
    /// The sender's Matrix ID.
    pub sender: String,
    /// Milliseconds since the Unix epoch, as the origin server stamped it.
    pub sent_ms: i64,
    pub text: String,
    /// The event this one explicitly replies to.
    pub in_reply_to: Option<String>,
    pub files: Vec<File>,
}

/// A conversation of a care team, with everything its archive names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversation {
    pub room_id: String,
    /// The care team's space.
    pub space_id: String,
    pub subject: String,
    pub archived: bool,
    pub client: Client,
    /// Everyone in the care team.
    pub care_team: Vec<Party>,
    /// The Matrix IDs of the conversation's members.
    pub participants: Vec<String>,
    /// Oldest first.
    pub messages: Vec<Message>,
}
