//! Errors the user can act on. Every variant maps to a stable [`ErrorCode`]
//! that the IPC boundary and the CLI expose and the UI translates.

use matrix_sdk::ruma::api::error::ErrorKind;
use serde::Serialize;

/// Stable, documented error codes. Never rename a variant: scripts and the UI
/// depend on the serialized string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Username or password rejected: retype them.
    WrongCredentials,
    /// The homeserver could not be reached: check the network or try later.
    HomeserverUnreachable,
    /// The homeserver address is not a valid URL or not a Matrix server.
    InvalidHomeserver,
    /// The room does not exist or this account is not in it.
    UnknownRoom,
    /// There is no signed-in session: sign in first.
    NotLoggedIn,
    /// The stored session is no longer accepted (token revoked, device deleted): sign in again.
    SessionLost,
    /// A message could not be handed to the send queue.
    SendFailed,
    /// The OS keychain could not be used.
    KeychainUnavailable,
    /// Kring's local storage failed (disk full, corrupt database).
    Storage,
    /// A care team needs the client's name and pseudo-BSN.
    ClientIncomplete,
    /// Not a valid Matrix user id.
    UnknownUser,
    /// This space is not a care team known on this device.
    NotACareTeam,
    /// The user's role does not allow this (power levels).
    NotPermitted,
    /// A conversation needs a subject.
    SubjectMissing,
    /// The subject has more than 50 characters.
    SubjectTooLong,
    /// A conversation needs a message.
    BodyMissing,
    /// A conversation needs at least one recipient besides the sender.
    RecipientsMissing,
    /// A recipient is not in the client's care team.
    RecipientNotInCareTeam,
    /// Clients and related persons cannot take part in a professional-only conversation.
    NotInProfessionalConversation,
    /// A message carries at most 5 attachments.
    TooManyAttachments,
    /// A file to attach could not be read on this device.
    AttachmentUnreadable,
    /// An attachment could not be downloaded or decrypted.
    AttachmentUnavailable,
    /// This Kring version cannot do that yet.
    NotYetSupported,
    /// A bug or an unexpected server answer; details are in the log.
    Internal,
    /// This installation has no organisation login configured: ask IT.
    OnboardingNotConfigured,
    /// The organisation's sign-in service cannot be reached: check the network, try later.
    IdpUnreachable,
    /// The organisation's sign-in service refused or answered wrongly: ask IT.
    IdpRejected,
    /// The user cancelled signing in, or never finished it in the browser: start again.
    LoginCancelled,
    /// The organisation's sign-in does not release the UZI number: ask IT.
    TokenWithoutUzi,
    /// The organisation's sign-in does not release the URA number: ask IT.
    TokenWithoutUra,
    /// No address register knows the organisation's URA: ask IT to register the directory.
    UraUnknown,
    /// A directory (LRZa, Nuts or the organisation's mCSD) cannot be reached: try later.
    DirectoryUnreachable,
    /// A directory answered with data that is not valid FHIR: ask its administrator.
    DirectoryMalformed,
    /// The organisation's directory does not list this practitioner: ask the organisation.
    PractitionerNotInDirectory,
    /// The directory names no Matrix account or server for this practitioner.
    NoMatrixAddress,
    /// The practitioner's organisation (another vendor) has not made a Matrix account yet: ask them.
    MatrixAccountMissing,
    /// The message is no longer waiting (sent, or discarded on another view): nothing to retry or edit.
    MessageNotUnsent,
    /// The homeserver refused a message for good: retry, edit or discard it; later messages still go out.
    SendRejected,
    /// The recovery key does not open this account's secure storage: check it and type it again.
    RecoveryKeyWrong,
    /// This account has no recovery set up yet: set it up on a device that already has the history.
    RecoveryNotSetUp,
    /// Another device already set up recovery: use its recovery key here instead of making a new one.
    RecoveryAlreadySetUp,
    /// Recovery or key backup could not be reached or failed; Kring keeps working and tries again.
    RecoveryFailed,
    /// That device is not (or no longer) one of this account's devices: refresh the list.
    UnknownDevice,
    /// The homeserver wants the password (or the sign-in in the browser) again before it signs a device out.
    ReauthenticationRequired,
    /// The verification was cancelled on one of the devices, or the emoji did not match: start it again.
    VerificationCancelled,
    /// The verification could not go on (no other device answered, the server failed): try again.
    VerificationFailed,
    /// The organisation's identity service cannot be reached, or the homeserver names none: try later or ask IT.
    IdentityServiceUnreachable,
    /// The identity service refused (an IdP it does not trust, a token that is not valid): ask IT.
    IdentityServiceRefused,
    /// The organisation's audit endpoint cannot be reached: nothing is lost, delivery resumes later.
    AuditEndpointUnreachable,
    /// The organisation's audit endpoint refused the events: ask IT; they stay here until it takes them.
    AuditEndpointRefused,
    /// That is not an e-mail address: check it for typing errors.
    EmailInvalid,
    /// The code from the mail does not match: check it, or ask for a new mail.
    EmailCodeWrong,
    /// This e-mail address already belongs to a Kring account: invite that person directly.
    EmailInUse,
    /// No e-mail address is waiting for its code: ask for a mail first.
    NoEmailValidation,
    /// FHIR from or for the information system is not what it should be (the message names the field): ask IT.
    FhirInvalid,
    /// The information system cannot be reached: nothing was changed; try again later.
    ArchiveEndpointUnreachable,
    /// The information system refused the archive or request: ask IT; the conversation is unchanged.
    ArchiveEndpointRefused,
    /// The request is about a client with no care team on this device: ask the care team's lead to invite you.
    FhirClientUnknown,
    /// The request names someone who is not in the client's care team: invite them first.
    FhirRecipientUnknown,
    /// A PIN is 5 to 12 digits: choose another.
    AppLockPinInvalid,
    /// The PIN does not match: try again (the message says how many tries are left).
    AppLockPinWrong,
    /// Too many wrong PINs: wait (the message says how long), then try again.
    AppLockHeld,
    /// Kring cannot lock without a PIN: set one first.
    AppLockNoPin,
    /// Kring is locked: unlock it first.
    AppLocked,
    /// The operating system did not confirm who is at the screen: try again, or use the PIN.
    AppLockOsRefused,
    /// The operating system's prompt was closed: Kring stays locked; try again or use the PIN.
    AppLockOsCancelled,
    /// This device cannot unlock Kring through the operating system: use the PIN.
    AppLockOsUnavailable,
    /// A move to another vendor needs this account's care identity at the identity service: bind it first.
    MigrationIdentityUnverified,
    /// The new account does not carry the same UZI, URA and role: the move is not made; ask IT.
    MigrationRefused,
    /// This device is not verified (cross-signed) yet: verify it with the recovery key or
    /// another device, then try again. Sharing history with someone needs it.
    DeviceNotVerified,
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("the recovery key does not fit this account")]
    RecoveryKeyWrong,
    #[error("this account has no recovery set up")]
    RecoveryNotSetUp,
    #[error("recovery is already set up for this account on another device")]
    RecoveryAlreadySetUp,
    #[error("recovery failed: {0}")]
    RecoveryFailed(String),
    #[error("unknown device: {0}")]
    UnknownDevice(String),
    #[error("the homeserver asks to confirm the account again")]
    ReauthenticationRequired,
    #[error("the verification was cancelled: {0}")]
    VerificationCancelled(String),
    #[error("the verification failed: {0}")]
    VerificationFailed(String),
    #[error("the identity service cannot be reached: {0}")]
    IdentityServiceUnreachable(String),
    #[error("the identity service refused ({errcode}): {message}")]
    IdentityServiceRefused { errcode: String, message: String },
    #[error("the audit endpoint cannot be reached: {0}")]
    AuditEndpointUnreachable(String),
    #[error("the audit endpoint refused the events: {0}")]
    AuditEndpointRefused(String),
    #[error("not an e-mail address")]
    EmailInvalid,
    #[error("the code from the mail does not match")]
    EmailCodeWrong,
    #[error("this e-mail address already belongs to an account")]
    EmailInUse,
    #[error("no e-mail address is waiting for its code")]
    NoEmailValidation,
    #[error("the FHIR is not valid: {0}")]
    FhirInvalid(String),
    #[error("the information system cannot be reached: {0}")]
    ArchiveEndpointUnreachable(String),
    #[error("the information system refused: {0}")]
    ArchiveEndpointRefused(String),
    #[error("no care team on this device is about this client")]
    FhirClientUnknown,
    #[error("not in the client's care team: {0}")]
    FhirRecipientUnknown(String),
    #[error("a PIN is {min} to {max} digits")]
    AppLockPinInvalid { min: usize, max: usize },
    #[error("wrong PIN; {attempts_left} tries left")]
    AppLockPinWrong { attempts_left: u32 },
    #[error("too many wrong PINs; try again in {seconds} s")]
    AppLockHeld { seconds: u32 },
    #[error("no PIN is set")]
    AppLockNoPin,
    #[error("Kring is locked")]
    AppLocked,
    #[error("the operating system did not confirm the user")]
    AppLockOsRefused,
    #[error("the operating system's prompt was closed")]
    AppLockOsCancelled,
    #[error("this device cannot unlock through the operating system")]
    AppLockOsUnavailable,
    #[error("this account's care identity is not bound at its identity service")]
    MigrationIdentityUnverified,
    #[error("the move to {new_user_id} is refused: {reason}")]
    MigrationRefused { new_user_id: String, reason: String },
    #[error("this device is not verified yet")]
    DeviceNotVerified,
    #[error("the homeserver rejected the username or password")]
    WrongCredentials,
    #[error("the homeserver could not be reached: {0}")]
    HomeserverUnreachable(String),
    #[error("not a valid homeserver address: {0}")]
    InvalidHomeserver(String),
    #[error("unknown room: {0}")]
    UnknownRoom(String),
    #[error("not signed in")]
    NotLoggedIn,
    #[error("the stored session was rejected by the homeserver")]
    SessionLost,
    #[error("the message could not be queued: {0}")]
    SendFailed(String),
    #[error("the OS keychain failed: {0}")]
    Keychain(String),
    #[error("local storage failed: {0}")]
    Storage(String),
    #[error("the client's name and pseudo-BSN are both needed")]
    ClientIncomplete,
    #[error("not a valid user: {0}")]
    UnknownUser(String),
    #[error("not a care team on this device: {0}")]
    NotACareTeam(String),
    #[error("not permitted: {0}")]
    NotPermitted(String),
    #[error("a subject is required")]
    SubjectMissing,
    #[error("the subject has {length} characters; at most 50 are allowed")]
    SubjectTooLong { length: usize },
    #[error("a message is required")]
    BodyMissing,
    #[error("choose at least one recipient")]
    RecipientsMissing,
    #[error("{0} is not in this client's care team")]
    RecipientNotInCareTeam(String),
    #[error("{0} cannot take part in a professional-only conversation")]
    NotInProfessionalConversation(String),
    #[error("{count} attachments; at most 5 are allowed")]
    TooManyAttachments { count: usize },
    #[error("the file cannot be read: {0}")]
    AttachmentUnreadable(String),
    #[error("the attachment is not available: {0}")]
    AttachmentUnavailable(String),
    #[error("not supported yet: {0}")]
    NotYetSupported(String),
    #[error("{0}")]
    Internal(String),
    #[error("the message is no longer waiting to be sent")]
    MessageNotUnsent,
    #[error("{count} message(s) were refused by the homeserver: {reason}")]
    SendRejected { count: usize, reason: String },
    #[error("organisation login is not configured: {0}")]
    OnboardingNotConfigured(String),
    #[error("the organisation's sign-in service cannot be reached: {0}")]
    IdpUnreachable(String),
    #[error("the organisation's sign-in service refused: {0}")]
    IdpRejected(String),
    #[error("sign-in was cancelled: {0}")]
    LoginCancelled(String),
    #[error("the organisation's sign-in did not release a UZI number")]
    TokenWithoutUzi,
    #[error("the organisation's sign-in did not release a URA number")]
    TokenWithoutUra,
    #[error("no address register knows URA {0}")]
    UraUnknown(String),
    #[error("a directory cannot be reached: {0}")]
    DirectoryUnreachable(String),
    #[error("a directory returned data that is not valid FHIR: {0}")]
    DirectoryMalformed(String),
    #[error("the directory of {organisation} does not list this practitioner")]
    PractitionerNotInDirectory { organisation: String },
    #[error("the directory of {organisation} names no Matrix account or homeserver for this practitioner")]
    NoMatrixAddress { organisation: String },
    #[error("{organisation} has no Matrix account for this practitioner yet; ask {organisation} to provision one")]
    MatrixAccountMissing { organisation: String },
}

impl CoreError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::WrongCredentials => ErrorCode::WrongCredentials,
            Self::HomeserverUnreachable(_) => ErrorCode::HomeserverUnreachable,
            Self::InvalidHomeserver(_) => ErrorCode::InvalidHomeserver,
            Self::UnknownRoom(_) => ErrorCode::UnknownRoom,
            Self::NotLoggedIn => ErrorCode::NotLoggedIn,
            Self::SessionLost => ErrorCode::SessionLost,
            Self::SendFailed(_) => ErrorCode::SendFailed,
            Self::Keychain(_) => ErrorCode::KeychainUnavailable,
            Self::Storage(_) => ErrorCode::Storage,
            Self::ClientIncomplete => ErrorCode::ClientIncomplete,
            Self::UnknownUser(_) => ErrorCode::UnknownUser,
            Self::NotACareTeam(_) => ErrorCode::NotACareTeam,
            Self::NotPermitted(_) => ErrorCode::NotPermitted,
            Self::SubjectMissing => ErrorCode::SubjectMissing,
            Self::SubjectTooLong { .. } => ErrorCode::SubjectTooLong,
            Self::BodyMissing => ErrorCode::BodyMissing,
            Self::RecipientsMissing => ErrorCode::RecipientsMissing,
            Self::RecipientNotInCareTeam(_) => ErrorCode::RecipientNotInCareTeam,
            Self::NotInProfessionalConversation(_) => ErrorCode::NotInProfessionalConversation,
            Self::TooManyAttachments { .. } => ErrorCode::TooManyAttachments,
            Self::AttachmentUnreadable(_) => ErrorCode::AttachmentUnreadable,
            Self::AttachmentUnavailable(_) => ErrorCode::AttachmentUnavailable,
            Self::NotYetSupported(_) => ErrorCode::NotYetSupported,
            Self::Internal(_) => ErrorCode::Internal,
            Self::MessageNotUnsent => ErrorCode::MessageNotUnsent,
            Self::SendRejected { .. } => ErrorCode::SendRejected,
            Self::OnboardingNotConfigured(_) => ErrorCode::OnboardingNotConfigured,
            Self::IdpUnreachable(_) => ErrorCode::IdpUnreachable,
            Self::IdpRejected(_) => ErrorCode::IdpRejected,
            Self::LoginCancelled(_) => ErrorCode::LoginCancelled,
            Self::TokenWithoutUzi => ErrorCode::TokenWithoutUzi,
            Self::TokenWithoutUra => ErrorCode::TokenWithoutUra,
            Self::UraUnknown(_) => ErrorCode::UraUnknown,
            Self::DirectoryUnreachable(_) => ErrorCode::DirectoryUnreachable,
            Self::DirectoryMalformed(_) => ErrorCode::DirectoryMalformed,
            Self::PractitionerNotInDirectory { .. } => ErrorCode::PractitionerNotInDirectory,
            Self::NoMatrixAddress { .. } => ErrorCode::NoMatrixAddress,
            Self::MatrixAccountMissing { .. } => ErrorCode::MatrixAccountMissing,
            Self::RecoveryKeyWrong => ErrorCode::RecoveryKeyWrong,
            Self::RecoveryNotSetUp => ErrorCode::RecoveryNotSetUp,
            Self::RecoveryAlreadySetUp => ErrorCode::RecoveryAlreadySetUp,
            Self::RecoveryFailed(_) => ErrorCode::RecoveryFailed,
            Self::UnknownDevice(_) => ErrorCode::UnknownDevice,
            Self::ReauthenticationRequired => ErrorCode::ReauthenticationRequired,
            Self::VerificationCancelled(_) => ErrorCode::VerificationCancelled,
            Self::VerificationFailed(_) => ErrorCode::VerificationFailed,
            Self::IdentityServiceUnreachable(_) => ErrorCode::IdentityServiceUnreachable,
            Self::IdentityServiceRefused { .. } => ErrorCode::IdentityServiceRefused,
            Self::MigrationIdentityUnverified => ErrorCode::MigrationIdentityUnverified,
            Self::MigrationRefused { .. } => ErrorCode::MigrationRefused,
            Self::DeviceNotVerified => ErrorCode::DeviceNotVerified,
            Self::AuditEndpointUnreachable(_) => ErrorCode::AuditEndpointUnreachable,
            Self::AuditEndpointRefused(_) => ErrorCode::AuditEndpointRefused,
            Self::EmailInvalid => ErrorCode::EmailInvalid,
            Self::EmailCodeWrong => ErrorCode::EmailCodeWrong,
            Self::EmailInUse => ErrorCode::EmailInUse,
            Self::NoEmailValidation => ErrorCode::NoEmailValidation,
            Self::FhirInvalid(_) => ErrorCode::FhirInvalid,
            Self::ArchiveEndpointUnreachable(_) => ErrorCode::ArchiveEndpointUnreachable,
            Self::ArchiveEndpointRefused(_) => ErrorCode::ArchiveEndpointRefused,
            Self::FhirClientUnknown => ErrorCode::FhirClientUnknown,
            Self::FhirRecipientUnknown(_) => ErrorCode::FhirRecipientUnknown,
            Self::AppLockPinInvalid { .. } => ErrorCode::AppLockPinInvalid,
            Self::AppLockPinWrong { .. } => ErrorCode::AppLockPinWrong,
            Self::AppLockHeld { .. } => ErrorCode::AppLockHeld,
            Self::AppLockNoPin => ErrorCode::AppLockNoPin,
            Self::AppLocked => ErrorCode::AppLocked,
            Self::AppLockOsRefused => ErrorCode::AppLockOsRefused,
            Self::AppLockOsCancelled => ErrorCode::AppLockOsCancelled,
            Self::AppLockOsUnavailable => ErrorCode::AppLockOsUnavailable,
        }
    }

    /// Classifies an SDK error from a request to the homeserver.
    pub(crate) fn from_http(err: &matrix_sdk::HttpError) -> Self {
        match err.client_api_error_kind() {
            Some(ErrorKind::Forbidden) => Self::WrongCredentials,
            Some(ErrorKind::UnknownToken { .. }) => Self::SessionLost,
            Some(ErrorKind::NotFound) => Self::UnknownRoom(String::new()),
            Some(_) => Self::Internal(err.to_string()),
            None => match err {
                // The token was refused and so was the refresh: the session is over,
                // unless the refresh itself could not reach the homeserver.
                matrix_sdk::HttpError::RefreshToken(matrix_sdk::RefreshTokenError::MatrixAuth(inner)) => {
                    match Self::from_http(inner) {
                        e @ Self::HomeserverUnreachable(_) => e,
                        _ => Self::SessionLost,
                    }
                }
                matrix_sdk::HttpError::RefreshToken(_) => Self::SessionLost,
                matrix_sdk::HttpError::Reqwest(e) if e.is_connect() || e.is_timeout() => {
                    Self::HomeserverUnreachable(e.to_string())
                }
                matrix_sdk::HttpError::Reqwest(e) => Self::HomeserverUnreachable(e.to_string()),
                other => Self::Internal(other.to_string()),
            },
        }
    }
}

impl From<matrix_sdk::Error> for CoreError {
    fn from(err: matrix_sdk::Error) -> Self {
        match err {
            matrix_sdk::Error::Http(http) => Self::from_http(&http),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<matrix_sdk::HttpError> for CoreError {
    fn from(err: matrix_sdk::HttpError) -> Self {
        Self::from_http(&err)
    }
}

impl From<matrix_sdk::ClientBuildError> for CoreError {
    fn from(err: matrix_sdk::ClientBuildError) -> Self {
        match err {
            matrix_sdk::ClientBuildError::Url(e) => Self::InvalidHomeserver(e.to_string()),
            matrix_sdk::ClientBuildError::Http(http) => Self::from_http(&http),
            matrix_sdk::ClientBuildError::SqliteStore(e) => Self::Storage(e.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_to_stable_snake_case_strings() {
        let json = serde_json::to_string(&CoreError::WrongCredentials.code()).unwrap();
        assert_eq!(json, "\"wrong_credentials\"");
        let json = serde_json::to_string(&CoreError::Keychain("x".into()).code()).unwrap();
        assert_eq!(json, "\"keychain_unavailable\"");
        assert_eq!(CoreError::HomeserverUnreachable("refused".into()).code(), ErrorCode::HomeserverUnreachable);
    }
}
