//! `kring-cli`: Kring without a window, over the same core as the app.
//! For administrators, scripts, the scenario tests and the benchmarks.
//!
//! Output is human-readable, or one JSON document per line with `--json`.
//! Failures print `{"error":{"code":…,"message":…}}` (with `--json`) or a
//! sentence, and exit with status 2; the codes are `kring_core::ErrorCode`.
#![recursion_limit = "256"]

mod care;
mod devices;
mod migrate;
mod notify;
mod onboard;
mod output;
mod sending;

use std::{path::PathBuf, sync::Arc, time::Duration};

use care::{CareTeamCommand, ConversationCommand, DirectoryCommand, care_team, conversation};
use clap::{Parser, Subcommand};
use kring_core::{
    CoreError, KeyringSecretStore, LoginRequest, NewAttachment, RoomSummary, Session, TimelineContent, TimelineItem,
};
use kring_store::Store;
use onboard::{onboard, use_directories};
use output::Output;
use tokio::sync::mpsc;

#[derive(Parser)]
#[command(name = "kring-cli", version, about = "Kring from the command line")]
struct Cli {
    /// Print JSON (one document per line) instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Where Kring keeps its local stores.
    #[arg(long, global = true, env = "KRING_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Which signed-in account to use (one keychain entry each).
    #[arg(long, global = true, env = "KRING_PROFILE", default_value = "default")]
    profile: String,
    /// Seconds to wait for the homeserver before giving up.
    #[arg(long, global = true, default_value_t = 30)]
    timeout: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in with a password, or with --sso in the browser (related persons
    /// and clients: the care platform's IdP); kept in the OS keychain.
    Login {
        #[arg(long)]
        homeserver: String,
        #[arg(long, required_unless_present = "sso")]
        user: Option<String>,
        /// Sign in in the browser through the homeserver's single sign-on.
        #[arg(long)]
        sso: bool,
        /// With --sso: the homeserver's identity provider (e.g. oidc-careplatform).
        #[arg(long, requires = "sso")]
        idp: Option<String>,
        /// With --sso: the browser command (default: KRING_BROWSER, else the system browser).
        #[arg(long, requires = "sso")]
        browser: Option<String>,
        /// The password; prefer KRING_PASSWORD or --password-stdin over the command line.
        #[arg(long, env = "KRING_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// First login of a practitioner: organisation IdP in the browser, URA →
    /// directory, Matrix address, SSO on the homeserver. With a session in
    /// the keychain already, restores it without any login.
    Onboard {
        /// The deployment's onboarding configuration (JSON).
        #[arg(long, env = "KRING_ONBOARDING_CONFIG")]
        config: PathBuf,
        /// The browser command (the URL is appended); default: KRING_BROWSER or the system's.
        #[arg(long)]
        browser: Option<String>,
    },
    /// The care identity (UZI, URA, roles, directory resources) behind a
    /// Matrix ID: as their homeserver's identity service vouches for it
    /// (`verifiedBy`), else as their profile says (`verifiedBy: null`).
    Identity {
        #[arg(long)]
        user: String,
    },
    /// The homeserver's identity service: bind this account's UZI, URA and
    /// role codes (organisation login), or look up what it holds for an MXID.
    #[command(name = "identity-service", subcommand)]
    IdentityService(IdentityServiceCommand),
    /// Show the signed-in account.
    Whoami,
    /// List the rooms of the signed-in account.
    Rooms,
    /// Send a message (with up to 5 attachments) and wait until the homeserver has it.
    /// Prints `queued` once it is persisted: from then on a crash loses nothing.
    Send {
        /// Room id (or exact room name).
        #[arg(long)]
        room: String,
        /// Mark it urgent (recipients get a loud, repeated notification).
        #[arg(long)]
        urgent: bool,
        /// Send every line of standard input as its own message, in order.
        #[arg(long, conflicts_with_all = ["attachments", "reply_to", "text"])]
        lines: bool,
        /// A file to attach; repeat for more (at most 5).
        #[arg(long = "attach")]
        attachments: Vec<std::path::PathBuf>,
        /// Answer this message (event id).
        #[arg(long)]
        reply_to: Option<String>,
        #[arg(default_value = "")]
        text: String,
    },
    /// Save one attachment of a message (decrypted) to a file.
    Download {
        #[arg(long)]
        room: String,
        /// The message's event id.
        #[arg(long)]
        event: String,
        /// Which attachment of the message, from 0.
        #[arg(long, default_value_t = 0)]
        index: u32,
        /// Where to write it.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Print a room's messages; with --follow, keep printing new ones.
    Tail {
        #[arg(long)]
        room: String,
        #[arg(long)]
        follow: bool,
        /// With --follow: stop after this many new messages.
        #[arg(long)]
        count: Option<usize>,
        /// Also print notices (membership, settings, undecryptable messages).
        #[arg(long)]
        all: bool,
        /// The whole history, not only the recent part: scrolls back to the
        /// room's start (a room joined over federation fills in as it goes).
        #[arg(long, conflicts_with = "follow")]
        from_start: bool,
    },
    /// Sign out and remove the session from this machine.
    Logout,
    /// Every device of a person: recovery setup, recover with the key, status.
    #[command(subcommand)]
    Recovery(devices::RecoveryCommand),
    /// This account's devices: list, sign one out.
    #[command(subcommand)]
    Devices(devices::DevicesCommand),
    /// Verify a new device with one the person already has (emoji).
    #[command(subcommand)]
    Verify(devices::VerifyCommand),
    /// Care teams: one per client (list, create, invite, invites, accept, members).
    #[command(name = "care-team", subcommand)]
    CareTeam(CareTeamCommand),
    /// Vendor migration (UC4): move this practitioner's care teams to the
    /// account the directory names at another vendor.
    #[command(subcommand)]
    Migrate(migrate::MigrateCommand),
    /// Conversations in a client's care team.
    #[command(subcommand)]
    Conversation(ConversationCommand),
    /// The directories Kring knows (for adding people to a care team).
    #[command(subcommand)]
    Directory(DirectoryCommand),
    /// Send what an earlier run left in the send queue, and wait until it is out.
    Flush {
        #[arg(long)]
        room: Option<String>,
    },
    /// List messages waiting in the send queue, or refused by the homeserver.
    Queue,
    /// Mark a room read up to its latest message, from this device.
    Read {
        #[arg(long)]
        room: String,
        /// The deployment's onboarding.json: its `privacy` decides whether
        /// others see the receipt (private by default).
        #[arg(long)]
        config: Option<std::path::PathBuf>,
    },
    /// Desktop notifications.
    #[command(subcommand)]
    Notifications(notify::NotificationsCommand),
    /// The app lock of this profile: its PIN, and whether it holds.
    #[command(subcommand)]
    AppLock(AppLockCommand),
    /// Push to mobile devices through a push gateway.
    #[command(subcommand)]
    Push(notify::PushCommand),
    /// The profile's audit trail on this machine (NEN 7513), newest first;
    /// or check its hash chain, export it as FHIR AuditEvents, or deliver
    /// what the organisation's FHIR endpoint has not had yet.
    Audit {
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Recompute the hash chain from the first event: {"events", "firstBroken"}.
        #[arg(long)]
        verify: bool,
        /// Print a FHIR transaction Bundle of the events after `--after`.
        #[arg(long)]
        export: bool,
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// Post the undelivered events to this FHIR base URL (a transaction per batch).
        #[arg(long)]
        deliver: Option<url::Url>,
    },
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("kring-cli")
}

/// What the operating system's prompt says when the CLI asks it to confirm the user.
const OS_PROMPT: &str = "Kring: bevestig dat jij het bent.";

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KRING_LOG")
                // The SDK logs expected 404s (unset account data) as errors;
                // failures that matter reach the user as Kring's own error.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new(
                        "warn,matrix_sdk=off,matrix_sdk_base=off,matrix_sdk_crypto=off,matrix_sdk_ui=off",
                    )
                }),
        )
        .init();
    let cli = Cli::parse();
    let out = Output::new(cli.json);
    let code = match run(&cli, &out).await {
        Ok(()) => 0,
        Err(err) => {
            // Stopped as a successful command stops: the last sync's room
            // keys are kept (Session::stop).
            let open = OPEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
            if let Some(stopper) = open {
                stopper.stop().await;
            }
            out.error(&err);
            2
        }
    };
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // Exit without dropping the runtime under the SDK's background tasks:
    // matrix-sdk 0.18's event cache panics ("joining failed: Cancelled") when
    // its store-write task is cancelled at shutdown. The stores are SQLite
    // and consistent at any point, as after a kill.
    std::process::exit(code);
}

/// Kring's own database for this profile (audit log, settings).
async fn open_store(data_dir: &std::path::Path, profile: &str) -> Result<Store, CoreError> {
    Store::open(&data_dir.join("profiles").join(profile).join("kring.db"))
        .await
        .map_err(|e| CoreError::Storage(e.to_string()))
}

async fn run(cli: &Cli, out: &Output) -> Result<(), CoreError> {
    let data_dir = cli.data_dir.clone().unwrap_or_else(default_data_dir);
    let store = open_store(&data_dir, &cli.profile).await?;
    let secrets = Arc::new(KeyringSecretStore::default());
    let timeout = Duration::from_secs(cli.timeout);
    match &cli.command {
        Command::Login { homeserver, sso: true, idp, browser, .. } => {
            let url = url::Url::parse(homeserver).map_err(|e| CoreError::InvalidHomeserver(e.to_string()))?;
            let browser = match browser {
                Some(command) => kring_core::SystemBrowser::with_command(command),
                None => kring_core::SystemBrowser::from_env(),
            };
            let wait = Duration::from_secs(cli.timeout.max(120));
            let session =
                Session::login_in_browser(&data_dir, secrets, &cli.profile, &url, idp.as_deref(), &browser, wait)
                    .await?;
            out.session(&session.info().await);
            session.stop().await;
        }
        Command::Login { homeserver, user, password, password_stdin, .. } => {
            let user = user.clone().unwrap_or_default();
            let password = match (password, password_stdin) {
                (_, true) => read_password_stdin()?,
                (Some(p), false) => p.clone(),
                (None, false) => {
                    return Err(CoreError::WrongCredentials);
                }
            };
            let request = LoginRequest { homeserver: homeserver.clone(), username: user, password };
            let session = Session::login(&data_dir, secrets, &cli.profile, &request).await?;
            out.session(&session.info().await);
            session.stop().await;
        }
        Command::Onboard { config, browser } => {
            onboard(&data_dir, secrets, &cli.profile, config, browser.as_deref(), &store, out).await?;
        }
        Command::Identity { user } => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            let binding = session.resolve_care_identity(user).await?;
            let verified_by = binding.as_ref().and_then(|b| b.verified_by.clone());
            // The CLI's own naming (camelCase), not the profile field's wire format.
            let identity = binding.map(|b| {
                serde_json::json!({"uzi": b.uzi, "ura": b.ura, "roleCodes": b.role_codes,
                    "practitioner": b.practitioner, "practitionerRole": b.practitioner_role,
                    "organization": b.organization})
            });
            out.value(&serde_json::json!({"userId": user, "identity": identity, "verifiedBy": verified_by}));
            session.stop().await;
        }
        Command::IdentityService(command) => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            match command {
                IdentityServiceCommand::Bind { config, browser } => {
                    let config = kring_core::OnboardingConfig::load(config)?;
                    let browser: Arc<dyn kring_core::Browser> = Arc::new(match browser {
                        Some(command) => kring_core::SystemBrowser::with_command(command),
                        None => kring_core::SystemBrowser::from_env(),
                    });
                    let wait = Duration::from_secs(config.login_timeout_seconds.max(1));
                    let bound = session.bind_care_identity(&config.idp, browser, wait).await?;
                    out.value(&serde_json::json!({"bound": bound}));
                }
                IdentityServiceCommand::Unbind => {
                    out.value(&serde_json::json!({"unbound": session.unbind_care_identity().await?}));
                }
                IdentityServiceCommand::Lookup { user } => {
                    let found = session.verified_identity_of(user).await?;
                    out.value(&serde_json::json!({"userId": user, "verified": found}));
                }
                IdentityServiceCommand::Email { address } => {
                    session.request_email_validation(address).await?;
                    out.value(&serde_json::json!({"mailed": true}));
                }
                IdentityServiceCommand::ConfirmEmail { code } => {
                    let bound = session.confirm_email(code).await?;
                    out.value(&serde_json::json!({"bound": bound}));
                }
            }
            session.stop().await;
        }
        Command::Whoami => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            out.session(&session.info().await);
            session.stop().await;
        }
        Command::Rooms => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            sync_every_room(&session, timeout).await;
            out.rooms(&room_snapshot(&session).await);
            session.stop().await;
        }
        Command::Send { room, urgent, lines, attachments, reply_to, text } => {
            // Refusals (a sixth file, an unreadable one) before signing in.
            let files = read_attachments(attachments)?;
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            // Queue from the cached room list at once: offline, a sync could
            // take the whole timeout, and until queued a kill would lose it.
            let room_id = match resolve_room(&session, room) {
                Ok(room_id) => room_id,
                Err(_) => {
                    session.wait_until_synced(timeout).await;
                    resolve_room(&session, room)?
                }
            };
            if *lines {
                sending::send_lines(&session, &room_id, *urgent, timeout, out).await?;
            } else {
                let event_id = sending::send_and_confirm(
                    &session,
                    &room_id,
                    text,
                    files,
                    reply_to.as_deref(),
                    *urgent,
                    timeout,
                    out,
                )
                .await?;
                out.sent(&room_id, &event_id);
            }
            session.stop().await;
        }
        Command::Flush { room } => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            let room_id = room.as_deref().map(|r| resolve_room(&session, r)).transpose()?;
            sending::flush(&session, room_id.as_deref(), timeout, out).await?;
            session.stop().await;
        }
        Command::Queue => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            let unsent = session.unsent_messages().await?;
            out.value(&serde_json::json!({"unsent": unsent.iter().map(sending::unsent_json).collect::<Vec<_>>()}));
            session.stop().await;
        }
        Command::Read { room, config } => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            if let Some(path) = config {
                session.use_privacy(kring_core::OnboardingConfig::load(path)?.privacy);
            }
            session.wait_until_synced(timeout).await;
            let room_id = resolve_room(&session, room)?;
            sending::mark_read(&session, &room_id).await?;
            out.value(&serde_json::json!({"read": room_id}));
            session.stop().await;
        }
        Command::AppLock(AppLockCommand::OsCheck) => {
            let answer = kring_core::confirm_os_user(OS_PROMPT).await;
            out.value(&serde_json::json!({ "answer": answer }));
        }
        Command::AppLock(command) => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            let policy = match command.config() {
                Some(path) => kring_core::OnboardingConfig::load(path)?.app_lock,
                None => kring_core::AppLockPolicy::default(),
            };
            session.use_app_lock(policy);
            let state = match command {
                AppLockCommand::Status { .. } => session.app_lock_state().await?,
                // The PIN comes on standard input, never as an argument (ps, shell history).
                AppLockCommand::SetPin { .. } => session.set_app_lock_pin(&read_password_stdin()?).await?,
                AppLockCommand::Unlock { os: true, .. } => session.unlock_app_with_os(OS_PROMPT).await?,
                AppLockCommand::Unlock { .. } => session.unlock_app(&read_password_stdin()?).await?,
                AppLockCommand::OsCheck => unreachable!("answered above, without a session"),
            };
            out.value(&state);
            session.stop().await;
        }
        Command::Notifications(command) => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            notify::notifications(&session, command, timeout, out).await?;
            session.stop().await;
        }
        Command::Push(command) => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            session.wait_until_synced(timeout).await;
            notify::push(&session, command, out).await?;
            session.stop().await;
        }
        Command::Download { room, event, index, out: path } => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            sync_every_room(&session, timeout).await;
            let room_id = resolve_room(&session, room)?;
            let content = session.attachment_content(&room_id, event, *index).await?;
            std::fs::write(path, &content.data).map_err(|e| CoreError::Storage(e.to_string()))?;
            out.value(&serde_json::json!({
                "saved": path, "filename": content.filename, "mime": content.mime, "bytes": content.data.len()
            }));
            session.stop().await;
        }
        Command::Tail { room, follow, count, all, from_start } => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            sync_every_room(&session, timeout).await;
            let room_id = resolve_room(&session, room)?;
            let pages = if *from_start { 100 } else { 1 };
            let mode = TailMode { follow: *follow, count: *count, all: *all, pages };
            tail(&session, &room_id, mode, timeout, out).await?;
            session.stop().await;
        }
        Command::Logout => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            session.logout().await?;
            out.logged_out();
        }
        Command::Recovery(command) => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            session.wait_until_synced(timeout).await;
            devices::recovery(&session, command, out).await?;
            session.stop().await;
        }
        Command::Devices(command) => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            devices::devices(&session, command, out).await?;
            session.stop().await;
        }
        Command::Verify(command) => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            session.wait_until_synced(timeout).await;
            devices::verify(&session, command, out).await?;
            session.stop().await;
        }
        Command::Migrate(command) => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            sync_every_room(&session, timeout).await;
            let jobs = kring_core::migration::job_database_path(&data_dir, &cli.profile);
            // Stopped also after a failure: the last sync's keys must be kept.
            let done = migrate::migrate(&session, &jobs, command, out).await;
            session.stop().await;
            done?;
        }
        Command::CareTeam(command) => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            sync_every_room(&session, timeout).await;
            care_team(&session, command, out).await?;
            session.stop().await;
        }
        Command::Conversation(command) => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            sync_every_room(&session, timeout).await;
            conversation(&session, command, out).await?;
            session.stop().await;
        }
        Command::Directory(DirectoryCommand::Search { name, role, organisation, config }) => {
            let session = restore(&data_dir, secrets, &cli.profile).await?;
            use_directories(&session, config.as_deref())?;
            let query = kring_core::DirectorySearch {
                name: name.clone(),
                role: role.clone(),
                organisation: organisation.clone(),
            };
            out.value(&session.search_directory(&query).await?);
            session.stop().await;
        }
        Command::Audit { limit, verify, export, after, deliver } => {
            let storage = |e: kring_store::StoreError| CoreError::Storage(e.to_string());
            if *verify {
                out.value(&store.verify_audit_chain().await.map_err(storage)?);
            } else if *export || deliver.is_some() {
                // Exports are audited themselves: they need the signed-in session.
                let session = restore(&data_dir, secrets, &cli.profile).await?;
                if let Some(endpoint) = deliver {
                    let sent = session.deliver_audit(endpoint).await;
                    session.stop().await;
                    out.value(&serde_json::json!({"delivered": sent?}));
                } else {
                    let (bundle, _) = session.export_audit(*after, i64::from(*limit).max(1_000_000)).await?;
                    session.stop().await;
                    out.value(&bundle);
                }
            } else {
                let events = store.latest_audit_events(i64::from(*limit)).await.map_err(storage)?;
                out.audit(&events.into_iter().map(kring_core::AuditEntry::from).collect::<Vec<_>>());
            }
        }
    }
    Ok(())
}

pub(crate) fn read_password_stdin() -> Result<String, CoreError> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| CoreError::Internal(e.to_string()))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// The session of this run, for the error path: a command that fails after
/// `restore` returns with `?` before its own `stop()`.
static OPEN: std::sync::Mutex<Option<kring_core::Stopper>> = std::sync::Mutex::new(None);

/// Syncs until every room of the account is known, not only the 20 of the
/// first sliding-sync response: the commands that list, or find a room by
/// its name, would otherwise miss care teams of a large practice.
async fn sync_every_room(session: &Session, timeout: Duration) {
    session.wait_until_synced(timeout).await;
    session.wait_until_all_rooms_known(timeout).await;
}

async fn restore(
    data_dir: &std::path::Path,
    secrets: Arc<KeyringSecretStore>,
    profile: &str,
) -> Result<Session, CoreError> {
    let session = Session::restore(data_dir, secrets, profile).await?.ok_or(CoreError::NotLoggedIn)?;
    *OPEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(session.stopper());
    Ok(session)
}

/// A room by id, or by its exact display name when that is unambiguous.
fn resolve_room(session: &Session, wanted: &str) -> Result<String, CoreError> {
    let rooms = session.client().joined_rooms();
    if let Some(room) = rooms.iter().find(|r| r.room_id().as_str() == wanted) {
        return Ok(room.room_id().to_string());
    }
    let by_name: Vec<_> =
        rooms.iter().filter(|r| r.cached_display_name().map(|n| n.to_string()).as_deref() == Some(wanted)).collect();
    match by_name.as_slice() {
        [one] => Ok(one.room_id().to_string()),
        _ => Err(CoreError::UnknownRoom(wanted.to_owned())),
    }
}

/// The current room list: the first Reset plus whatever follows within a
/// short quiet period, so rooms still arriving from the first sync count.
async fn room_snapshot(session: &Session) -> Vec<RoomSummary> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _sub = session.watch_rooms(Box::new(move |batch| tx.send(batch).is_ok()));
    let mut rooms = Vec::new();
    while let Ok(Some(batch)) = tokio::time::timeout(Duration::from_millis(700), rx.recv()).await {
        for diff in batch {
            diff.apply(&mut rooms);
        }
    }
    rooms
}

/// Reads the files to attach, refusing a sixth before reading any.
pub(crate) fn read_attachments(paths: &[std::path::PathBuf]) -> Result<Vec<NewAttachment>, CoreError> {
    if paths.len() > kring_core::MAX_ATTACHMENTS {
        return Err(CoreError::TooManyAttachments { count: paths.len() });
    }
    paths.iter().map(|p| NewAttachment::from_path(p)).collect()
}

/// What `tail` prints: the recent history (`pages` of it), or with `follow`
/// new messages as they come (`count` of them); notices too with `all`.
struct TailMode {
    follow: bool,
    count: Option<usize>,
    all: bool,
    pages: usize,
}

async fn tail(
    session: &Session,
    room_id: &str,
    mode: TailMode,
    timeout: Duration,
    out: &Output,
) -> Result<(), CoreError> {
    let TailMode { follow, count, all, pages } = mode;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _sub = session.watch_timeline(room_id, Box::new(move |batch| tx.send(batch).is_ok())).await?;
    let mut items: Vec<TimelineItem> = Vec::new();
    let mut printed = std::collections::HashSet::new();
    let mut new_messages = 0usize;
    let quiet = if follow { timeout } else { Duration::from_millis(700) };
    // History keeps arriving after the first batch (the room subscription),
    // so "new" means sent after this command started.
    let started_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as f64).unwrap_or(0.0);
    if !follow {
        // Recent history, also in a room just joined; or all of it.
        for _ in 0..pages {
            if session.paginate_back(room_id, 20).await? {
                break;
            }
        }
    }
    while let Ok(Some(batch)) = tokio::time::timeout(quiet, rx.recv()).await {
        batch.into_iter().for_each(|d| d.apply(&mut items));
        if !follow {
            continue;
        }
        for item in &items {
            if let TimelineContent::Message { event_id: Some(event_id), timestamp_ms, .. } = &item.content
                && printed.insert(event_id.clone())
            {
                out.message(item);
                if *timestamp_ms >= started_ms {
                    new_messages += 1;
                }
            }
        }
        if count.is_some_and(|c| new_messages >= c) {
            return Ok(());
        }
    }
    if !follow {
        for item in &items {
            match item.content {
                TimelineContent::Message { .. } => out.message(item),
                TimelineContent::Notice { .. } if all => out.value(item),
                _ => {}
            }
        }
    }
    Ok(())
}

#[derive(Subcommand)]
enum IdentityServiceCommand {
    /// Sign in at the organisation IdP once more (no password while its
    /// session lasts) and bind what it vouches for to this account.
    Bind {
        /// The deployment's onboarding configuration (which IdP).
        #[arg(long)]
        config: std::path::PathBuf,
        /// The browser command (default: KRING_BROWSER, else the system browser).
        #[arg(long)]
        browser: Option<String>,
    },
    /// Remove what the organisation vouched for from this account (before
    /// it goes, or when it was bound to the wrong person).
    Unbind,
    /// What the identity service holds for an MXID, as the organisation vouched for it.
    Lookup {
        #[arg(long)]
        user: String,
    },
    /// Ask for a mail with a code, to bind this e-mail address to the account
    /// (an invite by e-mail then reaches it).
    Email {
        #[arg(long)]
        address: String,
    },
    /// The code from that mail: the address is bound, waiting invites arrive.
    ConfirmEmail {
        #[arg(long)]
        code: String,
    },
}

#[derive(Subcommand)]
enum AppLockCommand {
    /// Whether the lock is on, a PIN set, and how many tries are left.
    Status {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Set the PIN (5 to 12 digits, on standard input).
    SetPin {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Try the PIN (on standard input): wrong ones count, as in the app.
    /// With --os, the operating system confirms the user instead.
    Unlock {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        os: bool,
    },
    /// Asks the operating system to confirm the user, as the lock screen's
    /// "unlock with your computer account" does, and prints its answer
    /// (confirmed, refused, cancelled, unavailable). Needs no profile: it
    /// checks a machine's polkit, Windows Hello or Touch ID set-up.
    OsCheck,
}

impl AppLockCommand {
    fn config(&self) -> Option<&std::path::Path> {
        match self {
            Self::Status { config } | Self::SetPin { config } | Self::Unlock { config, .. } => config.as_deref(),
            Self::OsCheck => None,
        }
    }
}
