//! Compliance (UC8, NEN 7510 / NEN 7513): the audit trail of every access to
//! a client's data, its export as FHIR and its delivery to the organisation;
//! retention; privacy by default; archiving conversations to the
//! information system as FHIR, and taking up its requests.

pub mod app_lock;
pub mod archive;
pub mod audit;
pub mod os_unlock;
pub mod privacy;
pub mod retention;
