//! Kring's core: everything that knows Matrix, with no webview.
//!
//! The Tauri shell and the headless CLI are both thin adapters over this crate.
// Building a matrix-sdk-ui timeline inside an async fn exceeds rustc's default
// query depth (measured; see TEST-STACK.md).
#![recursion_limit = "256"]

// One folder per concept; the short paths below keep each concept's
// modules reachable as before (`crate::care_team`, `kring_core::subscription`).
pub mod care;
pub mod compliance;
pub mod devices;
pub mod error;
pub mod login;
pub mod messaging;
pub mod migration;
pub mod notifications;
pub mod session;

pub(crate) use care::email_invite;
pub use care::{care_network, care_team, power_levels};
pub(crate) use login::browser_login;
pub use login::{identity, identity_service, onboarding};
pub use messaging::{attachment, conversation, rooms, send_queue, timeline, urgent};
pub use notifications::{desktop_notifier, push};
pub use session::{diff, secrets, subscription, sync};

pub use attachment::{Attachment, AttachmentContent, AttachmentKind, MAX_ATTACHMENTS, NewAttachment};
pub use care::streams::{watch_care_team_invites, watch_care_team_members, watch_care_teams, watch_conversations};
pub use care_network::{
    Absence, AbsenceSource, CareNetwork, DirectoryHit, DirectoryNotAvailable, DirectoryScope, DirectorySearch,
    NetworkParticipant, ParticipantKind, watch_care_network,
};
pub use care_team::{CareTeam, CareTeamInvite, ClientRef, Member};
pub use compliance::{
    app_lock::{AppLockPolicy, AppLockState},
    archive::{ArchiveReceipt, ImportReport, ImportedRequest, RefusedRequest},
    audit::AuditEntry,
    os_unlock::{OsAnswer, confirm_user as confirm_os_user},
    privacy::PrivacyPolicy,
    retention::{ExpiringConversation, PurgeReport, start_retention_reminders},
};
pub use conversation::{ConversationKind, ConversationStatus, ConversationSummary, NewConversation};
pub use desktop_notifier::DesktopNotifier;
pub use devices::{DeviceTrust, OwnDevice, Reauth, RecoveryKey, RecoveryState, VerificationEmoji, VerificationStep};
pub use diff::ListDiff;
pub use error::{CoreError, ErrorCode};
pub use identity::CareIdentityBinding;
pub use identity_service::VerifiedIdentity;
pub use kring_identity::{Browser, SystemBrowser};
pub use migration::{AcceptedMigrations, MigrationPlan, MigrationReport, RunOptions, start_migration_acceptance};
pub use notifications::{DesktopNotification, NotificationEvent, NotificationMode, NotificationSettings, Notifier};
pub use onboarding::{
    AccountOrigin, Onboarded, OnboardingConfig, OnboardingProgress, OnboardingStep, RelatedPersonLogin, StartView,
    StepState, first_login, related_person_login,
};
pub use power_levels::{Role, RolePolicy};
pub use push::PushRegistration;
pub use rooms::RoomSummary;
pub use secrets::{KeyringSecretStore, SecretStore, StoredSession};
pub use send_queue::{SendFailure, SendProblem, UnsentMessage};
pub use session::{LoginRequest, Session, SessionInfo, Stopper};
pub use subscription::Subscription;
pub use sync::SyncStatus;
pub use timeline::{MembershipNotice, Notice, SendState, TimelineContent, TimelineItem, UploadProgress};
