//! The care model: a client's care team (a space), its members with their
//! roles and power levels, the care network with each practitioner's
//! directory details (UC1), and invites by e-mail for related persons.

pub mod care_network;
pub mod care_team;
pub(crate) mod email_invite;
pub mod power_levels;
pub mod streams;
