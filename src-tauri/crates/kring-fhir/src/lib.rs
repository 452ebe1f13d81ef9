//! The care-team model as FHIR R4, after the OZO profiles
//! (`ozoverbindzorg/integrale-netwerk-communicatie`):
//!
//! | Kring / Matrix            | FHIR                                   |
//! |---------------------------|----------------------------------------|
//! | care team (space)         | `CareTeam`                             |
//! | conversation (room)       | `CommunicationRequest` (the thread)    |
//! | its first message         | the request's `payload`                |
//! | every later message       | `Communication`, `partOf` the request  |
//! | a file                    | `Attachment` with its data inline      |
//! | the client                | `Patient`, by pseudo-BSN only          |
//!
//! Both ways: [`conversation_bundle`] archives a conversation as one
//! transaction for the organisation's information system, and
//! [`read_communication_request`] turns a request an information system
//! posted into what Kring needs to start a conversation. No Matrix and no
//! network here, so a server-side gateway (001 §8) can use it as it is.

mod archive;
mod import;
mod model;
pub mod systems;

pub use archive::conversation_bundle;
pub use import::{IncomingFile, IncomingThread, Recipient, mark_imported, read_communication_request};
pub use model::{Client, Conversation, File, Message, Party, PartyKind};

/// What is wrong with FHIR that Kring was given or asked to write.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FhirError {
    #[error("expected a {expected}, got {found}")]
    WrongResource { expected: &'static str, found: String },
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("{field} is not valid: {why}")]
    Invalid { field: &'static str, why: String },
    #[error("the subject has {length} characters, at most {max} fit")]
    SubjectTooLong { length: usize, max: usize },
    #[error("a conversation without messages cannot be archived")]
    NoMessages,
}

/// The subject's limit (001 UC2: "onderwerp (max 50 tekens)").
pub const SUBJECT_MAX_CHARS: usize = 50;
