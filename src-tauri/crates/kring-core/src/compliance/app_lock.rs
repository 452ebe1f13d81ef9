//! The app lock (NEN 7510: a screen left alone must not show client data).
//! After the organisation's idle time (which a user may shorten) the app
//! locks; a Kring PIN unlocks it. The PIN is kept only as a salted PBKDF2
//! hash, in the OS keychain with the session. Wrong PINs are counted across
//! restarts; after the organisation's maximum the lock holds for a while.
//! A restart with a PIN set starts locked, so quitting is no way around it.
//! Where the organisation allows it, the operating system may unlock instead
//! (`os_unlock`: polkit, Windows Hello, Touch ID); the PIN stays the way in
//! wherever the OS cannot answer.
//! Desktop and mobile share this code path; the UI decides when the user
//! has been idle, Kring holds the state and says whether it is locked.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use base64::{Engine, engine::general_purpose::STANDARD_NO_PAD};
use kring_store::now_ms;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::os_unlock::OsAnswer;
use crate::{CoreError, Session, care_team::store_err};

const PBKDF2_ROUNDS: u32 = 100_000;
const PIN_DIGITS: std::ops::RangeInclusive<usize> = 5..=12;
const FAILURES_SETTING: &str = "app_lock_failures";
const HELD_UNTIL_SETTING: &str = "app_lock_held_until_ms";
const IDLE_SETTING: &str = "app_lock_idle_seconds";

/// The organisation's rules (`app_lock` in onboarding.json).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct AppLockPolicy {
    /// Lock after this long without input; 0 turns the lock off. A user
    /// may choose less, never more.
    pub idle_seconds: u32,
    /// Wrong PINs in a row before the lock holds.
    pub max_attempts: u32,
    /// How long it then holds.
    pub lockout_seconds: u32,
    /// The operating system's own check of the desktop user may unlock.
    pub os_unlock: bool,
}

impl Default for AppLockPolicy {
    fn default() -> Self {
        Self { idle_seconds: 300, max_attempts: 3, lockout_seconds: 60, os_unlock: true }
    }
}

/// What the UI needs to show the lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AppLockState {
    /// The organisation has the lock on.
    pub enabled: bool,
    pub pin_set: bool,
    pub locked: bool,
    /// The idle time in force (the user's choice within the organisation's).
    pub idle_seconds: u32,
    /// The organisation's idle time: the most a user may choose.
    pub max_idle_seconds: u32,
    pub attempts_left: u32,
    /// While the lock holds after too many wrong PINs.
    pub retry_in_seconds: u32,
    /// Unlocking through the operating system is offered: the organisation
    /// allows it and this device has not said it cannot.
    pub os_unlock: bool,
}

#[derive(Default)]
pub(crate) struct AppLock {
    policy: std::sync::RwLock<AppLockPolicy>,
    locked: Arc<AtomicBool>,
    /// The OS answered "not here" once this session: not offered again.
    os_unavailable: AtomicBool,
}

impl AppLock {
    /// For tasks that outlive a borrow of the session (notifications).
    pub(crate) fn locked_flag(&self) -> Arc<AtomicBool> {
        self.locked.clone()
    }
}

fn hash_pin(pin: &str, salt: &[u8]) -> [u8; 32] {
    let mut out = [0_u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pin.as_bytes(), salt, PBKDF2_ROUNDS, &mut out);
    out
}

/// `pbkdf2-sha256$<rounds>$<salt>$<hash>`, base64 without padding.
fn encode_pin(pin: &str) -> Zeroizing<String> {
    let mut salt = [0_u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let hash = hash_pin(pin, &salt);
    Zeroizing::new(format!(
        "pbkdf2-sha256${PBKDF2_ROUNDS}${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(hash)
    ))
}

fn pin_matches(pin: &str, encoded: &str) -> bool {
    let mut parts = encoded.split('$');
    let (Some("pbkdf2-sha256"), Some(rounds), Some(salt), Some(hash)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(rounds), Ok(salt), Ok(want)) =
        (rounds.parse::<u32>(), STANDARD_NO_PAD.decode(salt), STANDARD_NO_PAD.decode(hash))
    else {
        return false;
    };
    let mut got = vec![0_u8; want.len()];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pin.as_bytes(), &salt, rounds, &mut got);
    // Constant time: every byte is compared.
    got.len() == want.len() && got.iter().zip(&want).fold(0_u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

pub fn validate_pin(pin: &str) -> Result<(), CoreError> {
    if pin.chars().all(|c| c.is_ascii_digit()) && PIN_DIGITS.contains(&pin.len()) {
        Ok(())
    } else {
        Err(CoreError::AppLockPinInvalid { min: *PIN_DIGITS.start(), max: *PIN_DIGITS.end() })
    }
}

impl Session {
    /// The organisation's rules. With a PIN set, a session that starts
    /// under them starts locked.
    pub fn use_app_lock(&self, policy: AppLockPolicy) {
        let enabled = policy.idle_seconds > 0;
        *self.app_lock.policy.write().unwrap_or_else(|e| e.into_inner()) = policy;
        if enabled && self.stored_pin().is_some() {
            self.app_lock.locked.store(true, Ordering::SeqCst);
        }
    }

    fn policy(&self) -> AppLockPolicy {
        self.app_lock.policy.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn stored_pin(&self) -> Option<Zeroizing<String>> {
        self.secrets.load(&self.profile).ok().flatten().and_then(|s| s.app_lock_pin)
    }

    /// Whether the app is locked now (notifications then name no one).
    pub fn is_locked(&self) -> bool {
        self.app_lock.locked.load(Ordering::SeqCst)
    }

    async fn setting_i64(&self, key: &str) -> Result<i64, CoreError> {
        Ok(self.store.setting(key).await.map_err(store_err)?.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    pub async fn app_lock_state(&self) -> Result<AppLockState, CoreError> {
        let policy = self.policy();
        let chosen = u32::try_from(self.setting_i64(IDLE_SETTING).await?).unwrap_or(0);
        let idle_seconds = if chosen > 0 { chosen.min(policy.idle_seconds) } else { policy.idle_seconds };
        let failures = u32::try_from(self.setting_i64(FAILURES_SETTING).await?).unwrap_or(0);
        let held_ms = self.setting_i64(HELD_UNTIL_SETTING).await? - now_ms();
        Ok(AppLockState {
            enabled: policy.idle_seconds > 0,
            pin_set: self.stored_pin().is_some(),
            locked: self.is_locked(),
            idle_seconds,
            max_idle_seconds: policy.idle_seconds,
            attempts_left: policy.max_attempts.saturating_sub(failures),
            retry_in_seconds: u32::try_from((held_ms.max(0) + 999) / 1000).unwrap_or(u32::MAX),
            os_unlock: policy.os_unlock && !self.app_lock.os_unavailable.load(Ordering::SeqCst),
        })
    }

    /// Sets (or changes) the PIN. Changing it while locked is refused.
    pub async fn set_app_lock_pin(&self, pin: &str) -> Result<AppLockState, CoreError> {
        if self.is_locked() {
            return Err(CoreError::AppLocked);
        }
        validate_pin(pin)?;
        let mut stored = self.secrets.load(&self.profile)?.ok_or(CoreError::NotLoggedIn)?;
        stored.app_lock_pin = Some(encode_pin(pin));
        self.secrets.save(&self.profile, &stored)?;
        self.audit("set_app_lock_pin", None).await;
        self.app_lock_state().await
    }

    /// The user's own idle time, within the organisation's.
    pub async fn set_app_lock_idle(&self, seconds: u32) -> Result<AppLockState, CoreError> {
        let most = self.policy().idle_seconds;
        let seconds = seconds.clamp(30.min(most), most);
        self.store.set_setting(IDLE_SETTING, &seconds.to_string()).await.map_err(store_err)?;
        self.app_lock_state().await
    }

    /// Locks now (the user was idle, or asked). Without a PIN there is no
    /// way back in, so it is refused.
    pub async fn lock_app(&self) -> Result<AppLockState, CoreError> {
        if self.stored_pin().is_none() {
            return Err(CoreError::AppLockNoPin);
        }
        if !self.app_lock.locked.swap(true, Ordering::SeqCst) {
            self.audit("lock_app", None).await;
        }
        self.app_lock_state().await
    }

    /// Unlocks with the PIN. A wrong one is counted and audited; after the
    /// organisation's maximum, the lock holds for its lockout time.
    pub async fn unlock_app(&self, pin: &str) -> Result<AppLockState, CoreError> {
        let policy = self.policy();
        let held_ms = self.setting_i64(HELD_UNTIL_SETTING).await? - now_ms();
        if held_ms > 0 {
            let seconds = u32::try_from((held_ms + 999) / 1000).unwrap_or(u32::MAX);
            return Err(CoreError::AppLockHeld { seconds });
        }
        let stored = self.stored_pin().ok_or(CoreError::AppLockNoPin)?;
        if pin_matches(pin, &stored) {
            return self.unlocked(None).await;
        }
        let failures = u32::try_from(self.setting_i64(FAILURES_SETTING).await?).unwrap_or(0) + 1;
        self.record_audit("unlock_failed", None, Some(&format!("wrong PIN, {failures} in a row")), 4).await;
        if failures >= policy.max_attempts {
            let until = now_ms() + i64::from(policy.lockout_seconds) * 1000;
            self.store.set_setting(HELD_UNTIL_SETTING, &until.to_string()).await.map_err(store_err)?;
            self.store.set_setting(FAILURES_SETTING, "0").await.map_err(store_err)?;
            return Err(CoreError::AppLockHeld { seconds: policy.lockout_seconds });
        }
        self.store.set_setting(FAILURES_SETTING, &failures.to_string()).await.map_err(store_err)?;
        Err(CoreError::AppLockPinWrong { attempts_left: policy.max_attempts - failures })
    }

    /// Unlocks once the operating system confirms the desktop user. This
    /// also works while wrong PINs hold the lock: the OS keeps its own count
    /// of failures. A refusal is audited as a failed unlock; a closed prompt
    /// is not an attempt.
    pub async fn unlock_app_with_os(&self, reason: &str) -> Result<AppLockState, CoreError> {
        if !self.policy().os_unlock || self.app_lock.os_unavailable.load(Ordering::SeqCst) {
            return Err(CoreError::AppLockOsUnavailable);
        }
        if !self.is_locked() {
            return self.app_lock_state().await;
        }
        match super::os_unlock::confirm_user(reason).await {
            OsAnswer::Confirmed => self.unlocked(Some("operating system")).await,
            OsAnswer::Refused => {
                self.record_audit("unlock_failed", None, Some("refused by the operating system"), 4).await;
                Err(CoreError::AppLockOsRefused)
            }
            OsAnswer::Cancelled => Err(CoreError::AppLockOsCancelled),
            OsAnswer::Unavailable => {
                self.app_lock.os_unavailable.store(true, Ordering::SeqCst);
                Err(CoreError::AppLockOsUnavailable)
            }
        }
    }

    /// A confirmed unlock: the failure count and any hold start afresh.
    async fn unlocked(&self, how: Option<&str>) -> Result<AppLockState, CoreError> {
        self.store.set_setting(FAILURES_SETTING, "0").await.map_err(store_err)?;
        self.store.set_setting(HELD_UNTIL_SETTING, "0").await.map_err(store_err)?;
        self.app_lock.locked.store(false, Ordering::SeqCst);
        self.audit_detail("unlock_app", None, how).await;
        self.app_lock_state().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_is_kept_as_a_salted_hash_that_only_it_matches() {
        let encoded = encode_pin("482913");
        assert!(!encoded.contains("482913"));
        assert!(pin_matches("482913", &encoded));
        assert!(!pin_matches("482914", &encoded));
        assert!(!pin_matches("", &encoded));
        assert_ne!(*encoded, *encode_pin("482913"), "a new salt each time");
        assert!(!pin_matches("482913", "plain$482913"));
    }

    #[test]
    fn a_pin_is_five_to_twelve_digits() {
        assert!(validate_pin("12345").is_ok());
        assert!(validate_pin("123456789012").is_ok());
        for bad in ["1234", "1234567890123", "12a45", "", "١٢٣٤٥"] {
            assert_eq!(validate_pin(bad).unwrap_err().code(), crate::ErrorCode::AppLockPinInvalid, "{bad}");
        }
    }
}
