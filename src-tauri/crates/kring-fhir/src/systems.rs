//! Identifier systems. The Dutch ones are the national naming systems; the
//! `urn:kring:` ones carry Matrix IDs, so that archiving twice updates what
//! the first archive wrote instead of adding to it.

pub const PSEUDO_BSN: &str = "http://fhir.nl/fhir/NamingSystem/pseudo-bsn";
pub const UZI: &str = "http://fhir.nl/fhir/NamingSystem/uzi-nr-pers";
pub const URA: &str = "http://fhir.nl/fhir/NamingSystem/ura";
/// A URL as an identifier: the directory resource someone is.
pub const URI: &str = "urn:ietf:rfc:3986";
pub const UZI_ROLE: &str = "http://fhir.nl/fhir/NamingSystem/uzi-rolcode";
/// A Matrix user ID.
pub const MATRIX_ID: &str = "urn:kring:matrix-id";
/// A care team's space ID.
pub const CARE_TEAM: &str = "urn:kring:care-team";
/// A conversation's room ID.
pub const CONVERSATION: &str = "urn:kring:conversation";
/// A message's event ID.
pub const MESSAGE: &str = "urn:kring:message";
