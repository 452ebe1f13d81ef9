//! First login of a practitioner (001 §3, §6, §7): the organisation's IdP
//! says who they are (UZI, URA, role codes); the URA leads to the
//! organisation's mCSD directory; the directory says where they are on
//! Matrix; Kring signs in there with SSO and records the identity binding.
//!
//! The decision of 001 §6: a directory of this vendor lets the homeserver
//! create a missing account (first SSO login provisions it); another vendor's
//! directory must name the account, or the user is told which organisation
//! has to provision it, and nothing is created.

use std::{path::Path, sync::Arc, time::Duration};

use kring_directory::{
    DirectoryClient, DirectoryError, MatrixAddress, ResolverConfig,
    fhir::{Endpoint, Organization, Practitioner, PractitionerRole},
};
use kring_identity::{Browser, CareIdentity, IdentityError, IdpConfig};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};
use url::Url;

use crate::{CoreError, SecretStore, Session, SessionInfo, identity::CareIdentityBinding};

/// A deployment's onboarding configuration (JSON): which IdP, which
/// resolvers in which order, and which directories this vendor runs.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct OnboardingConfig {
    pub idp: IdpConfig,
    pub resolvers: Vec<ResolverConfig>,
    /// Base URLs of the mCSD directories this vendor operates (001 §6).
    #[serde(default)]
    pub vendor_directories: Vec<String>,
    /// How long the browser steps may take before counting as cancelled.
    #[serde(default = "default_timeout")]
    pub login_timeout_seconds: u64,
    /// The homeserver's SSO provider for practitioners (its `id`, e.g.
    /// `oidc-kring`), when it offers more than one (the care platform's for
    /// related persons and clients is the other).
    #[serde(default)]
    pub homeserver_idp: Option<String>,
    /// How related persons and clients sign in (001 §3: the care platform's
    /// IdP, e-mail + password + second factor); absent where this
    /// installation is for practitioners only.
    #[serde(default)]
    pub related_persons: Option<RelatedPersonLogin>,
    /// What others may see of reading (receipts); private unless turned on.
    #[serde(default)]
    pub privacy: crate::PrivacyPolicy,
    /// The organisation's retention for new care teams, in days (WGBO: the
    /// organisation decides); none: kept until deleted.
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// How many days before messages expire Kring reminds and offers to
    /// archive them (default 30).
    #[serde(default)]
    pub retention_reminder_days: Option<u32>,
    /// The organisation's information system (ECD) as a FHIR R4 base URL:
    /// where conversations are archived (UC8), and whose
    /// CommunicationRequests start conversations.
    #[serde(default)]
    pub information_system: Option<Url>,
    /// The app lock: idle time, wrong PINs allowed, lockout (on, 5 minutes, by default).
    #[serde(default)]
    pub app_lock: crate::AppLockPolicy,
    /// Which list the app opens on: "conversations" (all of them, the
    /// default) or "clients", for a ward or district team that works client
    /// by client.
    #[serde(default)]
    pub start_view: StartView,
    /// At a new vendor (UC4): accept the invites this practitioner's own old
    /// account sends when the organisation moves, once both identity
    /// services vouch for the same UZI. On unless the organisation turns it off.
    #[serde(default = "accept_by_default")]
    pub accept_migration_invites: bool,
}

fn accept_by_default() -> bool {
    true
}

/// The list the app opens on, as the organisation chose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum StartView {
    #[default]
    Conversations,
    Clients,
}

impl OnboardingConfig {
    /// `retention_days` in milliseconds.
    pub fn default_retention_ms(&self) -> Option<u64> {
        self.retention_days.map(|d| u64::from(d) * 24 * 3600 * 1000)
    }
}

/// The care platform login for related persons and clients: single sign-on
/// on the homeserver with its care platform provider.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RelatedPersonLogin {
    /// The button's caption, e.g. the care platform's name.
    pub name: String,
    pub homeserver: Url,
    /// The homeserver's SSO provider id for the care platform, e.g. `oidc-careplatform`.
    pub homeserver_idp: String,
}

/// Kring's own database keeps what the first login found, for a restored
/// session to show (no patient data: names of the organisation and the user).
pub const SUMMARY_SETTING: &str = "onboarded";

fn default_timeout() -> u64 {
    300
}

impl OnboardingConfig {
    pub fn load(path: &Path) -> Result<Self, CoreError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CoreError::OnboardingNotConfigured(format!("{}: {e}", path.display())))?;
        serde_json::from_str(&text).map_err(|e| CoreError::OnboardingNotConfigured(format!("{}: {e}", path.display())))
    }

    fn is_vendor_directory(&self, base: &Url) -> bool {
        let norm = |s: &str| s.trim_end_matches('/').to_owned();
        self.vendor_directories.iter().any(|d| norm(d) == norm(base.as_str()))
    }
}

/// The steps the wizard shows, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum OnboardingStep {
    OrganisationLogin,
    FindOrganisation,
    FindPractitioner,
    ConnectHomeserver,
    /// The homeserver's identity service binds what the IdP vouched for
    /// (UZI, URA, role codes) to the MXID; the IdP is asked once more, with
    /// the service's nonce, and its open session asks for no password.
    BindIdentity,
    Ready,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Running,
    Done,
    Failed,
}

/// One change of one step. `detail` is what the step found, for the user:
/// their name, the organisation, the MXID. Never a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct OnboardingProgress {
    pub step: OnboardingStep,
    pub state: StepState,
    pub detail: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum AccountOrigin {
    /// This vendor's homeserver created the account at this first login.
    Provisioned,
    /// This vendor's directory already named the account.
    Existing,
    /// Another vendor's directory named the account; it lives there.
    OtherVendor,
}

#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Onboarded {
    pub session: SessionInfo,
    pub organisation: String,
    pub practitioner: String,
    pub account: AccountOrigin,
    /// The directory the practitioner was found in.
    pub directory: String,
}

/// What the directory said about the practitioner.
struct DirectoryEntry {
    directory: DirectoryClient,
    organisation: String,
    practitioner: Practitioner,
    roles: Vec<PractitionerRole>,
    address: MatrixAddress,
}

impl From<IdentityError> for CoreError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::IdpUnreachable { .. } => Self::IdpUnreachable(e.to_string()),
            IdentityError::IdpRejected(m) => Self::IdpRejected(m),
            IdentityError::Cancelled(m) => Self::LoginCancelled(m),
            IdentityError::MissingClaim("URA") => Self::TokenWithoutUra,
            IdentityError::MissingClaim(_) => Self::TokenWithoutUzi,
            IdentityError::Browser(m) => Self::Internal(m),
            IdentityError::Config(m) => Self::OnboardingNotConfigured(m),
        }
    }
}

impl From<DirectoryError> for CoreError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::Unreachable(_) | DirectoryError::Status { .. } | DirectoryError::InvalidAddress(_) => {
                Self::DirectoryUnreachable(e.to_string())
            }
            DirectoryError::Malformed(_) => Self::DirectoryMalformed(e.to_string()),
        }
    }
}

fn started(progress: &mut (dyn FnMut(OnboardingProgress) + Send), step: OnboardingStep) {
    progress(OnboardingProgress { step, state: StepState::Running, detail: None });
}

/// Ends a step: `done` with what it found, or `failed`.
fn finished<T>(
    progress: &mut (dyn FnMut(OnboardingProgress) + Send),
    step: OnboardingStep,
    result: Result<(T, Option<String>), CoreError>,
) -> Result<T, CoreError> {
    let (state, detail) = match &result {
        Ok((_, detail)) => (StepState::Done, detail.clone()),
        Err(_) => (StepState::Failed, None),
    };
    progress(OnboardingProgress { step, state, detail });
    result.map(|(value, _)| value)
}

/// A related person or client signs in at the care platform, through the
/// homeserver's single sign-on; their account is made there at the first
/// time. No directory is asked: they are not in one.
pub async fn related_person_login(
    data_dir: &Path,
    secrets: Arc<dyn SecretStore>,
    profile: &str,
    config: &OnboardingConfig,
    browser: &dyn Browser,
) -> Result<Session, CoreError> {
    let login = config
        .related_persons
        .as_ref()
        .ok_or_else(|| CoreError::OnboardingNotConfigured("no care platform login is configured".into()))?;
    let timeout = Duration::from_secs(config.login_timeout_seconds.max(1));
    let session = Session::login_in_browser(
        data_dir,
        secrets,
        profile,
        &login.homeserver,
        Some(&login.homeserver_idp),
        browser,
        timeout,
    )
    .await?;
    session.audit("related_person_login", None).await;
    Ok(session)
}

/// The whole first login. `progress` sees every step change; the result is
/// the running session, already kept in the keychain.
pub async fn first_login(
    data_dir: &Path,
    secrets: Arc<dyn SecretStore>,
    profile: &str,
    config: &OnboardingConfig,
    browser: Arc<dyn Browser>,
    progress: &mut (dyn FnMut(OnboardingProgress) + Send),
) -> Result<(Session, Onboarded), CoreError> {
    let timeout = Duration::from_secs(config.login_timeout_seconds.max(1));

    // Each step is awaited here, not handed to a helper as a future: rustc
    // then proves the whole login Send (a generic future parameter made it
    // fail with "Send is not general enough").
    started(progress, OnboardingStep::OrganisationLogin);
    let result = kring_identity::sign_in(&config.idp, browser.clone(), timeout).await.map_err(CoreError::from);
    let identity = finished(
        progress,
        OnboardingStep::OrganisationLogin,
        result.map(|id| {
            let name = id.name.clone();
            (id, name)
        }),
    )?;

    started(progress, OnboardingStep::FindOrganisation);
    let result = find_organisation(config, &identity).await;
    let (directory, organization, org_endpoints) = finished(progress, OnboardingStep::FindOrganisation, result)?;
    let organisation = organization.name.clone().unwrap_or_else(|| format!("URA {}", identity.ura));

    started(progress, OnboardingStep::FindPractitioner);
    let result = find_practitioner(directory, organisation.clone(), &identity, &organization, &org_endpoints).await;
    let entry = finished(progress, OnboardingStep::FindPractitioner, result)?;
    let practitioner = entry.practitioner.display_name().unwrap_or_else(|| identity.name.clone().unwrap_or_default());

    started(progress, OnboardingStep::ConnectHomeserver);
    let result = connect_homeserver(data_dir, secrets, profile, &entry, config, browser.as_ref(), timeout).await;
    let result = match result {
        Ok((session, account)) => {
            let user_id = session.info().await.user_id;
            Ok(((session, account), Some(user_id)))
        }
        Err(e) => Err(e),
    };
    let (session, account) = finished(progress, OnboardingStep::ConnectHomeserver, result)?;

    let binding = binding_for(&session, &identity, &entry).await;
    session.publish_care_identity(&binding).await;

    started(progress, OnboardingStep::BindIdentity);
    let result = bind_identity(&session, config, browser, timeout).await;
    finished(progress, OnboardingStep::BindIdentity, result)?;
    session.audit_detail("onboarded", None, Some(&format!("{:?} via {}", account, entry.directory.base()))).await;
    progress(OnboardingProgress { step: OnboardingStep::Ready, state: StepState::Done, detail: None });

    let onboarded = Onboarded {
        session: session.info().await,
        organisation,
        practitioner,
        account,
        directory: entry.directory.base().to_string(),
    };
    let summary = serde_json::json!({"organisation": onboarded.organisation, "practitioner": onboarded.practitioner,
        "account": onboarded.account, "directory": onboarded.directory});
    if let Err(e) = session.store().set_setting(SUMMARY_SETTING, &summary.to_string()).await {
        warn!("could not keep the first-login summary: {e}");
    }
    info!(account = ?onboarded.account, "first login complete");
    Ok((session, onboarded))
}

/// The fifth step. A homeserver that names no identity service has nothing
/// to bind at (the profile hint is then all others see): done, said so.
async fn bind_identity(
    session: &Session,
    config: &OnboardingConfig,
    browser: Arc<dyn Browser>,
    timeout: Duration,
) -> Result<((), Option<String>), CoreError> {
    if session.identity_service().await?.is_none() {
        warn!("the homeserver names no identity service: the identity stays a profile hint");
        return Ok(((), None));
    }
    let verified = session.bind_care_identity(&config.idp, browser, timeout).await?;
    Ok(((), verified.uzi.map(|uzi| format!("UZI {uzi}"))))
}

async fn find_organisation(
    config: &OnboardingConfig,
    identity: &CareIdentity,
) -> Result<((DirectoryClient, Organization, Vec<Endpoint>), Option<String>), CoreError> {
    let resolved = kring_directory::resolve_directory(&config.resolvers, &identity.ura)
        .await?
        .ok_or_else(|| CoreError::UraUnknown(identity.ura.clone()))?;
    let directory = DirectoryClient::new(resolved.base_url.as_str())?;
    // The organisation's own directory is the authority on its name and endpoints.
    let (organization, endpoints) = directory.organization_with_endpoints(&identity.ura).await?.ok_or_else(|| {
        CoreError::UraUnknown(format!("{} (not in its own directory {})", identity.ura, resolved.base_url))
    })?;
    let name = organization.name.clone().or(resolved.organisation_name);
    Ok(((directory, organization, endpoints), name))
}

async fn find_practitioner(
    directory: DirectoryClient,
    organisation: String,
    identity: &CareIdentity,
    organization: &Organization,
    org_endpoints: &[Endpoint],
) -> Result<(DirectoryEntry, Option<String>), CoreError> {
    let practitioner = directory
        .practitioner_by_uzi(&identity.uzi)
        .await?
        .ok_or_else(|| CoreError::PractitionerNotInDirectory { organisation: organisation.clone() })?;
    let id =
        practitioner.id.clone().ok_or_else(|| CoreError::DirectoryMalformed("a Practitioner without id".into()))?;
    let mut roles = directory.roles_of(&id).await?;
    // Their role at this organisation; roles elsewhere only when it has none.
    let here: Vec<PractitionerRole> = roles
        .iter()
        .filter(|r| r.organization.as_ref().and_then(|o| o.id_of("Organization")) == organization.id.as_deref())
        .cloned()
        .collect();
    if !here.is_empty() {
        roles = here;
    }
    let references: Vec<_> = roles.iter().flat_map(|r| r.endpoint.clone()).collect();
    let role_endpoints = directory.read_endpoints(&references, Vec::new()).await?;
    let address = kring_directory::matrix_address(
        &practitioner,
        &roles,
        &role_endpoints.iter().collect::<Vec<_>>(),
        Some(organization),
        &org_endpoints.iter().collect::<Vec<_>>(),
    );
    let name = practitioner.display_name();
    Ok((DirectoryEntry { directory, organisation, practitioner, roles, address }, name))
}

/// The homeserver's client-server URL: named in the directory, or found
/// through `.well-known` from a server name or the MXID.
async fn homeserver_of(address: &MatrixAddress) -> Result<Option<Url>, CoreError> {
    if let Some(url) = &address.homeserver {
        return Ok(Some(url.clone()));
    }
    let name = address.server_name.clone().or_else(|| {
        address.user_id.as_deref().and_then(kring_directory::matrix_address::server_name_of).map(str::to_owned)
    });
    let Some(name) = name else { return Ok(None) };
    let client = matrix_sdk::Client::builder()
        .server_name_or_homeserver_url(&name)
        .build()
        .await
        .map_err(|e| CoreError::HomeserverUnreachable(format!("{name}: {e}")))?;
    Ok(Some(client.homeserver()))
}

async fn connect_homeserver(
    data_dir: &Path,
    secrets: Arc<dyn SecretStore>,
    profile: &str,
    entry: &DirectoryEntry,
    config: &OnboardingConfig,
    browser: &dyn Browser,
    timeout: Duration,
) -> Result<(Session, AccountOrigin), CoreError> {
    let own_vendor = config.is_vendor_directory(entry.directory.base());
    let idp = config.homeserver_idp.as_deref();
    let organisation = entry.organisation.clone();
    if entry.address.is_empty() {
        return Err(CoreError::NoMatrixAddress { organisation });
    }
    if !own_vendor && entry.address.user_id.is_none() {
        // 001 §6: only the practitioner's own organisation can make the account.
        return Err(CoreError::MatrixAccountMissing { organisation });
    }
    let homeserver = homeserver_of(&entry.address).await?.ok_or(CoreError::NoMatrixAddress { organisation })?;
    let session = Session::login_in_browser(data_dir, secrets, profile, &homeserver, idp, browser, timeout).await?;
    let signed_in = session.info().await.user_id;
    if let Some(expected) = &entry.address.user_id
        && expected != &signed_in
    {
        // The IdP decides which account SSO lands on; a directory that says
        // otherwise is out of date. The signed-in account is the truth.
        warn!(%signed_in, %expected, "the directory names another Matrix ID than SSO signed in to");
    }
    let account = match (own_vendor, &entry.address.user_id) {
        (false, _) => AccountOrigin::OtherVendor,
        (true, Some(_)) => AccountOrigin::Existing,
        // SSO also lands on an account it made at an earlier first login
        // (the directory is not written back): that one already carries a binding.
        (true, None) if session.care_identity_of(&signed_in).await.ok().flatten().is_some() => AccountOrigin::Existing,
        (true, None) => AccountOrigin::Provisioned,
    };
    Ok((session, account))
}

async fn binding_for(session: &Session, identity: &CareIdentity, entry: &DirectoryEntry) -> CareIdentityBinding {
    let mut role_codes = identity.role_codes.clone();
    for code in entry.roles.iter().flat_map(|r| &r.code).flat_map(|c| &c.coding).filter_map(|c| c.code.clone()) {
        if !role_codes.contains(&code) {
            role_codes.push(code);
        }
    }
    let dir = &entry.directory;
    CareIdentityBinding {
        user_id: session.info().await.user_id,
        uzi: identity.uzi.clone(),
        ura: identity.ura.clone(),
        role_codes,
        practitioner: entry.practitioner.id.as_deref().map(|id| dir.resource_url("Practitioner", id)),
        practitioner_role: entry
            .roles
            .first()
            .and_then(|r| r.id.as_deref())
            .map(|id| dir.resource_url("PractitionerRole", id)),
        organization: Some(entry.organisation.clone()),
        // The wizard's fifth step makes it verified, at the identity service.
        verified_by: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendor_decision_ignores_a_trailing_slash() {
        let config: OnboardingConfig = serde_json::from_value(serde_json::json!({
            "idp": {"issuer": "http://127.0.0.1:1", "client_id": "kring-desktop"},
            "resolvers": [{"kind": "static", "directories": {"1": "http://127.0.0.1:2/fhir"}}],
            "vendor_directories": ["http://127.0.0.1:2/fhir/"]
        }))
        .unwrap();
        assert!(config.is_vendor_directory(&Url::parse("http://127.0.0.1:2/fhir").unwrap()));
        assert!(!config.is_vendor_directory(&Url::parse("http://127.0.0.1:3/fhir").unwrap()));
        assert_eq!(config.login_timeout_seconds, 300);
    }

    #[test]
    fn a_missing_config_file_is_not_configured() {
        let err = OnboardingConfig::load(Path::new("/nonexistent/onboarding.json")).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::OnboardingNotConfigured);
    }

    #[test]
    fn identity_and_directory_errors_keep_their_meaning() {
        assert_eq!(CoreError::from(IdentityError::MissingClaim("URA")).code(), crate::ErrorCode::TokenWithoutUra);
        assert_eq!(CoreError::from(IdentityError::MissingClaim("UZI")).code(), crate::ErrorCode::TokenWithoutUzi);
        assert_eq!(CoreError::from(IdentityError::Cancelled("x".into())).code(), crate::ErrorCode::LoginCancelled);
        assert_eq!(CoreError::from(DirectoryError::Malformed("x".into())).code(), crate::ErrorCode::DirectoryMalformed);
        assert_eq!(
            CoreError::from(DirectoryError::Unreachable("x".into())).code(),
            crate::ErrorCode::DirectoryUnreachable
        );
    }
}
