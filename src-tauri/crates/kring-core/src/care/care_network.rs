//! The care network of a client (UC1): everyone in the client's care-team
//! space, with each practitioner's function, organisation and absences as
//! their own organisation's directory publishes them.
//!
//! The membership is Matrix state (local); the details come from the
//! directories, found through each practitioner's identity binding (by URA
//! through the resolvers when they are configured, else the directory the
//! binding names). They are cached in Kring's database, so the network
//! shows at once and stays visible, marked stale, when a directory is down.

use std::{collections::HashMap, sync::Arc, time::Duration};

use futures_util::{StreamExt, future::join_all, stream};
use kring_directory::{
    DirectoryClient, DirectoryError, ResolverConfig,
    network::{AbsencePeriod, OrganisationNames, PractitionerDetails},
};
use matrix_sdk::ruma::events::StateEventType;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::{debug, warn};

use crate::{
    CareIdentityBinding, CoreError, Role, Session,
    care_team::{members_of, permission_err, state_json, store_err},
    subscription::{Sink, Subscription},
};

/// The space state event that says how a related person relates to the
/// client. Its state key is `relation:<user id>`: the auth rules let only
/// the user themself set state under a key that starts with `@`.
pub const RELATION_EVENT: &str = "nl.kring.relation";
const RELATION_KEY_PREFIX: &str = "relation:";
/// A directory slower than this is treated as unreachable for this refresh.
const DIRECTORY_TIMEOUT: Duration = Duration::from_secs(5);
/// How many lookups one refresh runs at once, per homeserver or directory.
const CONCURRENCY: usize = 6;
/// How often an open network view asks the directories again.
const REFRESH_EVERY: Duration = Duration::from_secs(300);
/// How long a watched view lets the rest of a sync land before it reads.
const SETTLE: Duration = Duration::from_millis(100);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Absence {
    pub start: Option<String>,
    pub end: Option<String>,
    pub description: Option<String>,
    /// The period includes now.
    pub current: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantKind {
    Practitioner,
    RelatedPerson,
    Client,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct NetworkParticipant {
    pub user_id: String,
    pub name: String,
    pub role: Role,
    pub kind: ParticipantKind,
    pub joined: bool,
    /// Practitioners: the role as their directory words it.
    pub function: Option<String>,
    pub organisation: Option<String>,
    /// Related persons: e.g. mantelzorger, wettelijk vertegenwoordiger.
    pub relation: Option<String>,
    pub absences: Vec<Absence>,
    pub away_now: bool,
    /// The directory could not be asked at the last refresh: cached data.
    pub stale: bool,
    /// When the directory last answered for this person (RFC 3339).
    pub checked_at: Option<String>,
    /// Their UZI, URA and role code come from their organisation's identity
    /// service, bound after the organisation IdP vouched for them; not only
    /// from what their own profile says.
    pub verified: bool,
}

/// An e-mail invite not yet taken up: the invitee has not made an account
/// and bound the address. The address shows only as the homeserver
/// redacted it (`j...@example.org`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PendingEmailInvite {
    pub display_name: String,
    pub role: Role,
    pub relation: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CareNetwork {
    pub space_id: String,
    pub participants: Vec<NetworkParticipant>,
    pub pending_email_invites: Vec<PendingEmailInvite>,
    /// The care team's retention (`m.room.retention`), in seconds; `None`:
    /// kept until deleted.
    pub retention_seconds: Option<u32>,
    pub stale: bool,
    pub unreachable_directories: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DirectorySearch {
    pub name: Option<String>,
    pub role: Option<String>,
    pub organisation: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryHit {
    pub name: String,
    pub function: Option<String>,
    pub organisation: Option<String>,
    /// The Matrix ID the directory names, or that an identity service has
    /// bound to their UZI; without one they cannot be invited yet.
    pub user_id: Option<String>,
    /// `user_id` is not in the directory: an identity service has it bound
    /// to the UZI the directory names (an invite by UZI).
    pub found_by_uzi: bool,
    pub directory: String,
    pub absences: Vec<Absence>,
    pub away_now: bool,
}

/// Which directories Kring may ask: the resolvers (URA → directory) and the
/// directories of this vendor, from the onboarding configuration.
#[derive(Clone, Debug, Default)]
pub struct DirectoryScope {
    pub resolvers: Vec<ResolverConfig>,
    pub known: Vec<String>,
}

impl From<&crate::OnboardingConfig> for DirectoryScope {
    fn from(c: &crate::OnboardingConfig) -> Self {
        let mut known = c.vendor_directories.clone();
        for r in &c.resolvers {
            if let ResolverConfig::Static { directories } = r {
                known.extend(directories.values().cloned());
            }
        }
        Self { resolvers: c.resolvers.clone(), known }
    }
}

/// Where absence periods come from. No published source defines another
/// place than `PractitionerRole.notAvailable`, which the default reads (it
/// comes with the role, at no extra request); a roster or leave system can
/// take its place through [`Session::use_absence_source`].
pub trait AbsenceSource: Send + Sync {
    fn absences<'a>(
        &'a self,
        practitioner: &'a PractitionerDetails,
    ) -> futures_util::future::BoxFuture<'a, Result<Vec<AbsencePeriod>, DirectoryError>>;
}

/// `PractitionerRole.notAvailable[].during`, as the directory returned it.
pub struct DirectoryNotAvailable;

impl AbsenceSource for DirectoryNotAvailable {
    fn absences<'a>(
        &'a self,
        practitioner: &'a PractitionerDetails,
    ) -> futures_util::future::BoxFuture<'a, Result<Vec<AbsencePeriod>, DirectoryError>> {
        Box::pin(async move { Ok(practitioner.absences.clone()) })
    }
}

/// The details with the absences the source knows.
async fn with_absences(
    source: &dyn AbsenceSource,
    mut details: PractitionerDetails,
) -> Result<PractitionerDetails, DirectoryError> {
    details.absences = source.absences(&details).await?;
    Ok(details)
}

fn absences(periods: &[AbsencePeriod], now: jiff::Timestamp) -> Vec<Absence> {
    periods
        .iter()
        .map(|p| Absence {
            start: p.start.clone(),
            end: p.end.clone(),
            description: p.description.clone(),
            current: p.is_current(now),
        })
        .collect()
}

fn kind_of(role: Role) -> ParticipantKind {
    match role {
        Role::RelatedPerson => ParticipantKind::RelatedPerson,
        Role::Client => ParticipantKind::Client,
        _ => ParticipantKind::Practitioner,
    }
}

/// `<base>/PractitionerRole/<id>` → (`<base>/`, `id`).
fn split_resource_url(url: &str, resource_type: &str) -> Option<(String, String)> {
    let (base, id) = url.rsplit_once(&format!("/{resource_type}/"))?;
    Some((format!("{base}/"), id.split('/').next().unwrap_or(id).to_owned()))
}

fn normalise(base: &str) -> String {
    format!("{}/", base.trim_end_matches('/'))
}

impl Session {
    /// Lets the care network and the directory search use the deployment's
    /// resolvers and directories.
    pub fn use_directories(&self, scope: DirectoryScope) {
        *self.directory_scope.write().unwrap_or_else(|e| e.into_inner()) = scope;
    }

    /// Takes absences from another source than the directories' roles.
    pub fn use_absence_source(&self, source: Arc<dyn AbsenceSource>) {
        *self.absence_source.write().unwrap_or_else(|e| e.into_inner()) = source;
    }

    fn scope(&self) -> DirectoryScope {
        self.directory_scope.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A joined space that this device knows as a client's care team.
    async fn care_team_space(&self, space_id: &str) -> Result<matrix_sdk::Room, CoreError> {
        let space = self.joined_room(space_id)?;
        self.client_of(space_id).await?;
        Ok(space)
    }

    /// The relation a related person has to the client, as the care team recorded it.
    pub async fn set_relation(&self, space_id: &str, user_id: &str, relation: &str) -> Result<(), CoreError> {
        let space = self.joined_room(space_id)?;
        space
            .send_state_event_raw(
                RELATION_EVENT,
                &format!("{RELATION_KEY_PREFIX}{user_id}"),
                json!({ "relation": relation.trim() }),
            )
            .await
            .map_err(permission_err)?;
        Ok(())
    }

    /// Relations and e-mail invites as the space's state holds them. Sliding
    /// sync does not bring custom state, so the server is asked; offline,
    /// the local store (relations only).
    async fn space_records(&self, space: &matrix_sdk::Room) -> SpaceRecords {
        use matrix_sdk::ruma::api::client::state::get_state_events::v3::Request;
        let events: Vec<Value> = match self.client.send(Request::new(space.room_id().to_owned())).await {
            Ok(response) => response.room_state.iter().filter_map(|e| e.deserialize_as_unchecked().ok()).collect(),
            Err(_) => match space.get_state_events(StateEventType::from(RELATION_EVENT)).await {
                Ok(local) => local.into_iter().filter_map(|raw| state_json(&raw).ok()).collect(),
                Err(_) => Vec::new(),
            },
        };
        SpaceRecords::from_state(&events)
    }

    /// The care network from what this device knows: membership and the
    /// cache. Never waits for a directory.
    pub async fn care_network(&self, space_id: &str) -> Result<CareNetwork, CoreError> {
        let space = self.care_team_space(space_id).await?;
        let members = members_of(&space).await?;
        let SpaceRecords { relations, pending_email_invites, retention_seconds } = self.space_records(&space).await;
        let ids: Vec<String> = members.iter().map(|m| m.user_id.clone()).collect();
        let verified: std::collections::HashSet<String> =
            self.store.verified_users(&ids).await.map_err(store_err)?.into_iter().collect();
        let cached: HashMap<String, kring_store::CachedEntry> = self
            .store
            .cached_directory_entries(&ids)
            .await
            .map_err(store_err)?
            .into_iter()
            .map(|e| (e.user_id.clone(), e))
            .collect();
        let now = jiff::Timestamp::now();
        let mut unreachable = Vec::new();
        let participants = members
            .into_iter()
            .map(|m| {
                let entry = cached.get(&m.user_id);
                let details: PractitionerDetails =
                    entry.and_then(|e| serde_json::from_str(&e.details).ok()).unwrap_or_default();
                if let Some(e) = entry.filter(|e| e.stale)
                    && !unreachable.contains(&e.directory)
                {
                    unreachable.push(e.directory.clone());
                }
                let absences = absences(&details.absences, now);
                NetworkParticipant {
                    name: details.name.clone().unwrap_or_else(|| m.display_name.clone()),
                    kind: kind_of(m.role),
                    role: m.role,
                    joined: m.joined,
                    function: details.function.clone(),
                    organisation: details.organisation,
                    relation: relations.get(&m.user_id).cloned(),
                    away_now: absences.iter().any(|a| a.current),
                    absences,
                    stale: entry.is_some_and(|e| e.stale),
                    checked_at: entry
                        .and_then(|e| jiff::Timestamp::from_millisecond(e.checked_ms).ok())
                        .map(|t| t.to_string()),
                    verified: verified.contains(&m.user_id),
                    user_id: m.user_id,
                }
            })
            .collect();
        Ok(CareNetwork {
            space_id: space_id.to_owned(),
            participants,
            pending_email_invites,
            retention_seconds,
            stale: !unreachable.is_empty(),
            unreachable_directories: unreachable,
        })
    }

    /// Asks each practitioner's directory (all directories at once, each
    /// bounded by a short timeout), updates the cache, and returns the
    /// network. A directory that cannot be asked leaves its entries cached
    /// and marked stale.
    pub async fn refresh_care_network(&self, space_id: &str) -> Result<CareNetwork, CoreError> {
        Ok(self.refresh_care_network_counted(space_id).await?.0)
    }

    /// As [`Self::refresh_care_network`], with how many directory requests it made.
    pub async fn refresh_care_network_counted(&self, space_id: &str) -> Result<(CareNetwork, u64), CoreError> {
        let space = self.care_team_space(space_id).await?;
        // An e-mail invite this user sent that the homeserver has since made
        // real gets its level, relation and client here (one state request).
        if let Err(e) = self.complete_email_invites(space_id).await {
            warn!("e-mail invites not finished yet: {e}");
        }
        let members = members_of(&space).await?;
        let scope = self.scope();
        // Whose details live in which directory, with the role the binding names.
        let mut by_directory: HashMap<String, Vec<(String, CareIdentityBinding, Option<String>)>> = HashMap::new();
        let mut resolved: HashMap<String, Option<String>> = HashMap::new();
        // Each practitioner's identity as their identity service vouches for
        // it (kept once verified), else their profile's word; a role it names
        // that is gone falls back to the UZI. Asked a few at a time (some
        // live on other homeservers).
        // Owned ids, not borrowed members: rustc then proves the stream Send.
        let professionals: Vec<String> =
            members.iter().filter(|m| m.role.is_professional()).map(|m| m.user_id.clone()).collect();
        let bindings: Vec<(String, CareIdentityBinding)> = stream::iter(professionals)
            .map(|user_id| async move {
                let binding = self.resolve_care_identity(&user_id).await.unwrap_or_else(|e| {
                    debug!(user = %user_id, "no identity binding: {e}");
                    None
                });
                binding.map(|b| (user_id, b))
            })
            .buffer_unordered(CONCURRENCY)
            .filter_map(|b| async move { b })
            .collect()
            .await;
        for (user_id, binding) in bindings {
            let named = binding.practitioner_role.as_deref().and_then(|u| split_resource_url(u, "PractitionerRole"));
            // The URA's own directory is the authority; a binding is only the user's word.
            let directory = if scope.resolvers.is_empty() {
                named.as_ref().map(|(base, _)| base.clone())
            } else {
                if !resolved.contains_key(&binding.ura) {
                    let found = kring_directory::resolve_directory(&scope.resolvers, &binding.ura).await.ok().flatten();
                    resolved.insert(binding.ura.clone(), found.map(|d| normalise(d.base_url.as_str())));
                }
                resolved[&binding.ura].clone().or_else(|| named.as_ref().map(|(base, _)| base.clone()))
            };
            let Some(directory) = directory else { continue };
            let role_id = named.filter(|(base, _)| normalise(base) == normalise(&directory)).map(|(_, id)| id);
            by_directory.entry(normalise(&directory)).or_default().push((user_id, binding, role_id));
        }
        let refreshes = by_directory.into_iter().map(|(directory, people)| self.refresh_directory(directory, people));
        let mut requests = 0;
        for (directory, count, result) in join_all(refreshes).await {
            requests += count;
            if let Err(e) = result {
                warn!(%directory, "directory not reachable for the care network: {e}");
                self.store.mark_directory_stale(&directory).await.map_err(store_err)?;
            }
        }
        Ok((self.care_network(space_id).await?, requests))
    }

    async fn refresh_directory(
        &self,
        directory: String,
        people: Vec<(String, CareIdentityBinding, Option<String>)>,
    ) -> (String, u64, Result<(), DirectoryError>) {
        let client = match DirectoryClient::new(&directory).and_then(|c| c.with_timeout(DIRECTORY_TIMEOUT)) {
            Ok(c) => c,
            Err(e) => return (directory, 0, Err(e)),
        };
        let result = async {
            let ids: Vec<String> = people.iter().map(|(u, _, _)| u.clone()).collect();
            let cached: HashMap<String, PractitionerDetails> = self
                .store
                .cached_directory_entries(&ids)
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|e| e.directory == directory)
                .filter_map(|e| Some((e.user_id, serde_json::from_str(&e.details).ok()?)))
                .collect();
            // Taken before the queries, so nothing changed during them is missed next time.
            let started = jiff::Timestamp::now();
            let since = self.store.directory_since(&directory).await.ok().flatten();
            let changed = match &since {
                Some(since) if cached.len() == people.len() => Some(client.changes_since(since).await?),
                _ => None,
            };
            let names = OrganisationNames::default();
            let todo: Vec<(String, CareIdentityBinding, Option<String>)> = people
                .iter()
                .filter(|(user_id, _, _)| match (&changed, cached.get(user_id)) {
                    (Some(changes), Some(d)) => {
                        d.role_id.as_ref().is_some_and(|r| changes.roles.contains(r))
                            || d.practitioner_id.as_ref().is_some_and(|p| changes.practitioners.contains(p))
                    }
                    _ => true,
                })
                .cloned()
                .collect();
            for (user_id, _, _) in people.iter().filter(|p| !todo.iter().any(|t| t.0 == p.0)) {
                let _ = self.store.confirm_directory_entry(user_id).await;
            }
            let source = self.absence_source.read().unwrap_or_else(|e| e.into_inner()).clone();
            let fetched: Vec<Result<(String, Option<PractitionerDetails>), DirectoryError>> = stream::iter(todo)
                .map(|(user_id, binding, role_id)| {
                    let (client, names, source) = (&client, &names, source.as_ref());
                    async move {
                        let details = client.practitioner_details(role_id.as_deref(), &binding.uzi, names).await?;
                        let details = match details {
                            Some(d) => Some(with_absences(source, d).await?),
                            None => None,
                        };
                        Ok((user_id, details))
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for result in fetched {
                if let (user_id, Some(details)) = result? {
                    let json = serde_json::to_string(&details).unwrap_or_default();
                    if let Err(e) = self.store.cache_directory_entry(&user_id, &directory, &json).await {
                        warn!("could not cache directory details: {e}");
                    }
                }
            }
            // In the directory's own time when it says (HTTP Date, whole
            // seconds: one back); else ours, with a minute for clock skew.
            let since = match client.first_answer_time() {
                Some(t) => t.checked_sub(jiff::SignedDuration::from_secs(1)).unwrap_or(t),
                None => started.checked_sub(jiff::SignedDuration::from_secs(60)).unwrap_or(started),
            };
            let _ = self.store.set_directory_since(&directory, &since.to_string()).await;
            debug!(%directory, requests = client.requests(), "directory refreshed");
            Ok(())
        }
        .await;
        let count = client.requests();
        (directory, count, result)
    }

    /// Searches the directories Kring knows for people to add to a care
    /// team: by name in the directory, then by role and organisation text.
    pub async fn search_directory(&self, query: &DirectorySearch) -> Result<Vec<DirectoryHit>, CoreError> {
        let scope = self.scope();
        let mut directories: Vec<String> = scope.known.iter().map(|d| normalise(d)).collect();
        // The national register knows every organisation's directory.
        let mut listed = Vec::new();
        for r in &scope.resolvers {
            if let ResolverConfig::Lrza { base_url } = r {
                match DirectoryClient::new(base_url).and_then(|c| c.with_timeout(DIRECTORY_TIMEOUT)) {
                    Ok(lrza) => match lrza.listed_directories().await {
                        Ok(found) => listed.extend(found),
                        Err(e) => warn!("the LRZa did not list its directories: {e}"),
                    },
                    Err(e) => warn!("{e}"),
                }
            }
        }
        for d in listed.into_iter().chain(self.store.cached_directories().await.map_err(store_err)?) {
            let d = normalise(&d);
            if !directories.contains(&d) {
                directories.push(d);
            }
        }
        directories.dedup();
        if directories.is_empty() {
            return Err(CoreError::OnboardingNotConfigured("no directories are configured to search".into()));
        }
        let contains = |field: &Option<String>, wanted: &Option<String>| match wanted.as_deref().map(str::trim) {
            None | Some("") => true,
            Some(w) => field.as_deref().is_some_and(|f| f.to_lowercase().contains(&w.to_lowercase())),
        };
        let searches = directories.iter().map(|d| async move {
            let client = DirectoryClient::new(d)?.with_timeout(DIRECTORY_TIMEOUT)?;
            Ok::<_, DirectoryError>((d.clone(), client.search_practitioners(query.name.as_deref(), 50).await?))
        });
        let now = jiff::Timestamp::now();
        let mut hits = Vec::new();
        // Hit index → (their homeserver, UZI) for those without a published MXID.
        let mut unbound: Vec<(usize, String, String)> = Vec::new();
        for result in join_all(searches).await {
            let (directory, found) = match result {
                Ok(answer) => answer,
                Err(e) => {
                    warn!("a directory did not answer the search: {e}");
                    continue;
                }
            };
            let wanted = found
                .into_iter()
                .filter(|d| contains(&d.function, &query.role) && contains(&d.organisation, &query.organisation));
            for d in wanted {
                let absences = absences(&d.absences, now);
                if d.user_id.is_none()
                    && let (Some(hs), Some(uzi)) = (&d.homeserver, &d.uzi)
                {
                    unbound.push((hits.len(), hs.clone(), uzi.clone()));
                }
                hits.push(DirectoryHit {
                    name: d.name.unwrap_or_default(),
                    function: d.function,
                    organisation: d.organisation,
                    found_by_uzi: false,
                    user_id: d.user_id,
                    directory: directory.clone(),
                    away_now: absences.iter().any(|a| a.current),
                    absences,
                });
            }
        }
        self.find_by_uzi(&mut hits, unbound).await;
        hits.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(hits)
    }
}

impl Session {
    /// Invite by UZI (003 §5, 001 §6): a practitioner whose directory entry
    /// has a UZI but no MXID is looked up at the identity service of the
    /// homeserver their directory names; where they bound their UZI, the
    /// hit gets that MXID and can be invited. Failures leave the hit as it was.
    async fn find_by_uzi(&self, hits: &mut [DirectoryHit], unbound: Vec<(usize, String, String)>) {
        let lookups = unbound.into_iter().map(|(i, homeserver, uzi)| self.uzi_hit(i, homeserver, uzi));
        let found: Vec<Option<(usize, String)>> = stream::iter(lookups).buffer_unordered(CONCURRENCY).collect().await;
        for (i, mxid) in found.into_iter().flatten() {
            hits[i].user_id = Some(mxid);
            hits[i].found_by_uzi = true;
        }
    }

    async fn uzi_hit(&self, i: usize, homeserver: String, uzi: String) -> Option<(usize, String)> {
        let homeserver = url::Url::parse(&homeserver).ok()?;
        match self.mxid_for_uzi(&homeserver, &uzi).await {
            Ok(found) => found.map(|mxid| (i, mxid)),
            Err(e) => {
                debug!("UZI lookup at the identity service failed: {e}");
                None
            }
        }
    }
}

/// What the space's state records besides membership.
#[derive(Default)]
struct SpaceRecords {
    relations: HashMap<String, String>,
    pending_email_invites: Vec<PendingEmailInvite>,
    retention_seconds: Option<u32>,
}

impl SpaceRecords {
    fn from_state(events: &[Value]) -> Self {
        let of_type = |t: &'static str| events.iter().filter(move |e| e["type"] == t);
        let relations = of_type(RELATION_EVENT)
            .filter_map(|e| {
                let relation = e["content"]["relation"].as_str().filter(|r| !r.is_empty())?.to_owned();
                Some((e["state_key"].as_str()?.strip_prefix(RELATION_KEY_PREFIX)?.to_owned(), relation))
            })
            .collect();
        // A third-party invite is taken up once a member event carries its token.
        let taken_up: Vec<&str> = of_type("m.room.member")
            .filter_map(|e| e["content"]["third_party_invite"]["signed"]["token"].as_str())
            .collect();
        let pending_email_invites = of_type("m.room.third_party_invite")
            .filter_map(|e| {
                let token = e["state_key"].as_str().filter(|t| !taken_up.contains(t))?;
                let display_name = e["content"]["display_name"].as_str()?.to_owned();
                let record = of_type(RELATION_EVENT)
                    .find(|r| {
                        r["state_key"].as_str() == Some(&format!("{}{token}", crate::email_invite::PENDING_PREFIX))
                    })
                    .map(|r| &r["content"]);
                // Finished by the inviter's Kring: the record is emptied (the
                // member event it re-sent no longer carries the token).
                if record.is_some_and(|r| r.as_object().is_none_or(serde_json::Map::is_empty)) {
                    return None;
                }
                let role =
                    if record.is_some_and(|r| r["role"] == "client") { Role::Client } else { Role::RelatedPerson };
                let relation = record.and_then(|r| r["relation"].as_str()).filter(|r| !r.is_empty()).map(str::to_owned);
                Some(PendingEmailInvite { display_name, role, relation })
            })
            .collect();
        let retention_seconds = of_type(crate::compliance::retention::RETENTION_EVENT)
            .find_map(|e| e["content"]["max_lifetime"].as_u64())
            .map(|ms| u32::try_from(ms / 1000).unwrap_or(u32::MAX));
        Self { relations, pending_email_invites, retention_seconds }
    }
}

/// The network of a space as it changes: the cached state at once, then
/// the directories' answer, then again whenever sync touches the space (a
/// join, leave, invite, role or relation change shows within one sync), and
/// the directories once more every few minutes while it is watched.
pub fn watch_care_network(session: Arc<Session>, space_id: String, mut sink: Sink<CareNetwork>) -> Subscription {
    Subscription::new(tokio::spawn(async move {
        let Ok(room_id) = matrix_sdk::ruma::OwnedRoomId::try_from(space_id.as_str()) else { return };
        session.audit_read("open_care_network", &space_id).await;
        // Subscribed before the first read, so a change during it is not missed.
        let mut updates = session.client.room_info_notable_update_receiver();
        let mut shown: Option<CareNetwork> = None;
        let mut send = |network: CareNetwork, shown: &mut Option<CareNetwork>| {
            if shown.as_ref() == Some(&network) {
                return true;
            }
            *shown = Some(network.clone());
            sink(network)
        };
        match session.care_network(&space_id).await {
            Ok(network) => {
                if !send(network, &mut shown) {
                    return;
                }
            }
            Err(e) => warn!("care network not available: {e}"),
        }
        let mut refresh_due = tokio::time::Instant::now();
        loop {
            let refresh = tokio::select! {
                () = tokio::time::sleep_until(refresh_due) => true,
                () = room_touched(&mut updates, |u| u.room_id == room_id) => false,
            };
            let network = if refresh {
                refresh_due = tokio::time::Instant::now() + REFRESH_EVERY;
                session.refresh_care_network(&space_id).await
            } else {
                match session.care_network(&space_id).await {
                    // Someone new: their directory details are read now, not at the next refresh.
                    Ok(local) if shown.as_ref().is_some_and(|s| !same_people(s, &local)) => {
                        session.refresh_care_network(&space_id).await
                    }
                    other => other,
                }
            };
            match network {
                Ok(network) => {
                    if !send(network, &mut shown) {
                        return;
                    }
                }
                Err(e) => warn!("care network update failed: {e}"),
            }
        }
    }))
}

/// Waits until a sync or a local change updated this room, then lets the
/// rest of that sync land (one read per sync, not one per event).
async fn room_touched<U: Clone>(updates: &mut tokio::sync::broadcast::Receiver<U>, touches: impl Fn(&U) -> bool) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match updates.recv().await {
            Ok(update) if touches(&update) => break,
            Ok(_) => {}
            // Missed updates may include this room's.
            Err(RecvError::Lagged(_)) => break,
            Err(RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
    tokio::time::sleep(SETTLE).await;
    while updates.try_recv().is_ok() {}
}

/// The same people with the same roles: only then are the cached details enough.
fn same_people(a: &CareNetwork, b: &CareNetwork) -> bool {
    let people = |n: &CareNetwork| {
        let mut p: Vec<(String, Role)> = n.participants.iter().map(|p| (p.user_id.clone(), p.role)).collect();
        p.sort();
        p
    };
    people(a) == people(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_url_splits_into_directory_and_id() {
        assert_eq!(
            split_resource_url("http://127.0.0.1:9501/fhir/PractitionerRole/abc-1", "PractitionerRole"),
            Some(("http://127.0.0.1:9501/fhir/".into(), "abc-1".into()))
        );
        assert_eq!(split_resource_url("http://x/fhir/Practitioner/1", "PractitionerRole"), None);
        assert_eq!(normalise("http://x/fhir"), normalise("http://x/fhir/"));
    }

    /// A leave system in place of the directory: its periods are the ones kept.
    struct Roster;
    impl AbsenceSource for Roster {
        fn absences<'a>(
            &'a self,
            p: &'a PractitionerDetails,
        ) -> futures_util::future::BoxFuture<'a, Result<Vec<AbsencePeriod>, DirectoryError>> {
            Box::pin(async move {
                Ok(vec![AbsencePeriod { start: Some("2026-12-24".into()), end: None, description: p.name.clone() }])
            })
        }
    }

    #[tokio::test]
    async fn the_absence_source_is_pluggable() {
        let from_directory = PractitionerDetails {
            name: Some("Karim".into()),
            absences: vec![AbsencePeriod {
                start: Some("2026-11-29".into()),
                end: Some("2026-12-06".into()),
                description: None,
            }],
            ..Default::default()
        };
        let kept = with_absences(&DirectoryNotAvailable, from_directory.clone()).await.unwrap();
        assert_eq!(kept.absences, from_directory.absences);
        let replaced = with_absences(&Roster, from_directory).await.unwrap();
        assert_eq!(replaced.absences.len(), 1);
        assert_eq!(replaced.absences[0].start.as_deref(), Some("2026-12-24"));
        assert_eq!(replaced.absences[0].description.as_deref(), Some("Karim"));
    }

    #[test]
    fn an_email_invite_is_pending_until_a_member_event_carries_its_token() {
        let state = |events: Vec<Value>| SpaceRecords::from_state(&events);
        let tpi = |token: &str| {
            json!({"type": "m.room.third_party_invite", "state_key": token,
                "content": {"display_name": "j...@example.org", "key_validity_url": "x", "public_key": "k"}})
        };
        let record = |token: &str| {
            json!({"type": RELATION_EVENT, "state_key": format!("email_invite:{token}"),
                "content": {"role": "client", "relation": "", "invited_by": "@eva:a"}})
        };
        let relation = json!({"type": RELATION_EVENT, "state_key": "relation:@dochter:a",
            "content": {"relation": "Dochter, mantelzorger"}});
        let records = state(vec![tpi("t1"), record("t1"), tpi("t2"), relation.clone()]);
        assert_eq!(
            records.pending_email_invites,
            vec![
                PendingEmailInvite { display_name: "j...@example.org".into(), role: Role::Client, relation: None },
                // Without Kring's record (another client sent it): a related person.
                PendingEmailInvite {
                    display_name: "j...@example.org".into(),
                    role: Role::RelatedPerson,
                    relation: None
                },
            ]
        );
        assert_eq!(records.relations.get("@dochter:a").map(String::as_str), Some("Dochter, mantelzorger"));
        assert_eq!(records.retention_seconds, None);
        let retention =
            json!({"type": "m.room.retention", "state_key": "", "content": {"max_lifetime": 631_152_000_000_u64}});
        assert_eq!(state(vec![retention]).retention_seconds, Some(631_152_000), "20 years");
        let member = json!({"type": "m.room.member", "state_key": "@j:a",
            "content": {"membership": "invite", "third_party_invite": {"signed": {"token": "t1"}}}});
        let records = state(vec![tpi("t1"), record("t1"), member, relation.clone()]);
        assert!(records.pending_email_invites.is_empty(), "taken up: no longer pending");
        let finished = json!({"type": RELATION_EVENT, "state_key": "email_invite:t1", "content": {}});
        let records = state(vec![tpi("t1"), finished, relation]);
        assert!(records.pending_email_invites.is_empty(), "finished (record emptied): no longer pending");
    }

    #[test]
    fn roles_decide_the_kind_of_participant() {
        assert_eq!(kind_of(Role::Lead), ParticipantKind::Practitioner);
        assert_eq!(kind_of(Role::Senior), ParticipantKind::Practitioner);
        assert_eq!(kind_of(Role::RelatedPerson), ParticipantKind::RelatedPerson);
        assert_eq!(kind_of(Role::Client), ParticipantKind::Client);
    }
}
