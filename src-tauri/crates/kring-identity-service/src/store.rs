//! The service's database through sqlx's `Any` driver: sqlite embedded or
//! Postgres, chosen by the URL, one set of migrations for both. Queries use
//! `$1…$n` in order of appearance, which both engines bind by position.

use sqlx::{AnyPool, Row, any::AnyPoolOptions};

use crate::error::IsError;

pub fn now_ms() -> i64 {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// A hex sha256, for tokens and secrets the database must not hold in clear.
pub fn sha256_hex(value: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(value.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes per lookup query: far below the bound parameters sqlite (32,766)
/// and Postgres (65,535) take.
const LOOKUP_CHUNK: usize = 500;

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
}

/// A validation session as the database keeps it.
pub struct ValidationSession {
    pub client_secret_hash: String,
    pub user_id: String,
    pub nonce: String,
    pub validated: Option<(Vec<(String, String)>, i64)>,
    /// For an e-mail session: the address and the sha256 of the mailed token.
    pub email: Option<(String, String)>,
}

/// A third-party invite waiting for its address to be bound.
#[derive(Clone, Debug)]
pub struct StoredInvite {
    pub token: String,
    pub medium: String,
    pub address: String,
    pub room_id: String,
    pub sender: String,
    pub ephemeral_public_key: String,
    pub ephemeral_private_key: String,
}

/// One binding of a 3PID to an MXID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub medium: String,
    pub address: String,
    pub mxid: String,
    pub bound_ms: i64,
}

impl Store {
    pub async fn open(url: &str) -> Result<Self, IsError> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new().max_connections(8).connect(url).await?;
        sqlx::migrate!("./migrations").run(&pool).await.map_err(|e| IsError::Internal(format!("migrations: {e}")))?;
        Ok(Self { pool })
    }

    /// A secret of the deployment (signing key, pepper), made on first use
    /// and kept across restarts.
    pub async fn secret(&self, name: &str, make: impl FnOnce() -> String) -> Result<String, IsError> {
        let made = make();
        sqlx::query("INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(&made)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query("SELECT value FROM secrets WHERE name = $1").bind(name).fetch_one(&self.pool).await?;
        Ok(row.try_get(0)?)
    }

    pub async fn create_account(&self, token: &str, user_id: &str) -> Result<(), IsError> {
        sqlx::query("INSERT INTO accounts (token_hash, user_id, created_ms) VALUES ($1, $2, $3)")
            .bind(sha256_hex(token))
            .bind(user_id)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn account(&self, token: &str) -> Result<Option<String>, IsError> {
        let row = sqlx::query("SELECT user_id FROM accounts WHERE token_hash = $1")
            .bind(sha256_hex(token))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    pub async fn delete_account(&self, token: &str) -> Result<(), IsError> {
        sqlx::query("DELETE FROM accounts WHERE token_hash = $1").bind(sha256_hex(token)).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn accept_terms(&self, user_id: &str, url: &str) -> Result<(), IsError> {
        sqlx::query("INSERT INTO accepted_terms (user_id, url) VALUES ($1, $2) ON CONFLICT (user_id, url) DO NOTHING")
            .bind(user_id)
            .bind(url)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn accepted_terms(&self, user_id: &str, url: &str) -> Result<bool, IsError> {
        let row = sqlx::query("SELECT 1 FROM accepted_terms WHERE user_id = $1 AND url = $2")
            .bind(user_id)
            .bind(url)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    pub async fn create_session(
        &self,
        sid: &str,
        client_secret: &str,
        user_id: &str,
        nonce: &str,
    ) -> Result<(), IsError> {
        sqlx::query(
            "INSERT INTO sessions (sid, client_secret_hash, user_id, nonce, created_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(sid)
        .bind(sha256_hex(client_secret))
        .bind(user_id)
        .bind(nonce)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn session(&self, sid: &str) -> Result<Option<ValidationSession>, IsError> {
        let row = sqlx::query(
            "SELECT client_secret_hash, user_id, nonce, validated_json, validated_ms, address, token_hash \
             FROM sessions WHERE sid = $1",
        )
        .bind(sid)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let validated_json: Option<String> = row.try_get(3)?;
        let validated_ms: Option<i64> = row.try_get(4)?;
        let validated = match (validated_json, validated_ms) {
            (Some(json), Some(ms)) => {
                Some((serde_json::from_str(&json).map_err(|e| IsError::Internal(format!("session {sid}: {e}")))?, ms))
            }
            _ => None,
        };
        let address: Option<String> = row.try_get(5)?;
        let token_hash: Option<String> = row.try_get(6)?;
        Ok(Some(ValidationSession {
            client_secret_hash: row.try_get(0)?,
            user_id: row.try_get(1)?,
            nonce: row.try_get(2)?,
            validated,
            email: address.zip(token_hash),
        }))
    }

    /// Records that an ID token was used; `false` when it was seen before.
    pub async fn first_use_of_token(&self, token: &str) -> Result<bool, IsError> {
        let done = sqlx::query(
            "INSERT INTO seen_tokens (token_hash, seen_ms) VALUES ($1, $2) ON CONFLICT (token_hash) DO NOTHING",
        )
        .bind(sha256_hex(token))
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn mark_validated(&self, sid: &str, threepids: &[(String, String)]) -> Result<i64, IsError> {
        let json = serde_json::to_string(threepids).map_err(|e| IsError::Internal(e.to_string()))?;
        let now = now_ms();
        sqlx::query("UPDATE sessions SET validated_json = $1, validated_ms = $2 WHERE sid = $3")
            .bind(json)
            .bind(now)
            .bind(sid)
            .execute(&self.pool)
            .await?;
        Ok(now)
    }

    /// The MXIDs that hold a 3PID.
    pub async fn holders(&self, medium: &str, address: &str) -> Result<Vec<String>, IsError> {
        let rows = sqlx::query("SELECT mxid FROM bindings WHERE medium = $1 AND address = $2")
            .bind(medium)
            .bind(address)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| r.try_get(0).map_err(IsError::from)).collect()
    }

    pub async fn bind(&self, medium: &str, address: &str, mxid: &str, lookup_hash: &str) -> Result<i64, IsError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO bindings (medium, address, mxid, lookup_hash, bound_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (medium, address, mxid) DO NOTHING",
        )
        .bind(medium)
        .bind(address)
        .bind(mxid)
        .bind(lookup_hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(now)
    }

    /// Returns whether a binding was removed.
    pub async fn unbind(&self, medium: &str, address: &str, mxid: &str) -> Result<bool, IsError> {
        let done = sqlx::query("DELETE FROM bindings WHERE medium = $1 AND address = $2 AND mxid = $3")
            .bind(medium)
            .bind(address)
            .bind(mxid)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The MXID behind each lookup hash, for the media one MXID holds alone
    /// (a hash held by more than one is not answered). One query per
    /// [`LOOKUP_CHUNK`] hashes: a client's whole address book is one request.
    pub async fn lookup(&self, hashes: &[String]) -> Result<Vec<(String, String)>, IsError> {
        // Each hash once: one asked twice, in two chunks, would look held twice.
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<&String> = hashes.iter().filter(|h| seen.insert(h.as_str())).collect();
        let mut holders: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
        for chunk in unique.chunks(LOOKUP_CHUNK) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            // Only placeholders are spliced in; the hashes are bound.
            let sql = format!(
                "SELECT lookup_hash, mxid FROM bindings WHERE medium IN ('uzi_nr', 'email') AND lookup_hash IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for hash in chunk {
                query = query.bind(hash);
            }
            for row in query.fetch_all(&self.pool).await? {
                holders.entry(row.try_get(0)?).or_default().push(row.try_get(1)?);
            }
        }
        Ok(holders
            .into_iter()
            .filter_map(|(hash, mut mxids)| (mxids.len() == 1).then(|| (hash, mxids.remove(0))))
            .collect())
    }

    /// Everything bound to one MXID (the reverse lookup 001 §3 asks for).
    pub async fn bindings_of(&self, mxid: &str) -> Result<Vec<Binding>, IsError> {
        let rows = sqlx::query(
            "SELECT medium, address, mxid, bound_ms FROM bindings WHERE mxid = $1 ORDER BY medium, address",
        )
        .bind(mxid)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Binding {
                    medium: r.try_get(0)?,
                    address: r.try_get(1)?,
                    mxid: r.try_get(2)?,
                    bound_ms: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// The e-mail session an earlier request with the same secret, address
    /// and attempt made (a repeated `requestToken` sends no second mail).
    pub async fn email_session(
        &self,
        client_secret: &str,
        address: &str,
        send_attempt: i64,
    ) -> Result<Option<String>, IsError> {
        let row = sqlx::query(
            "SELECT sid FROM sessions WHERE client_secret_hash = $1 AND address = $2 AND send_attempt >= $3 \
             AND medium = 'email'",
        )
        .bind(sha256_hex(client_secret))
        .bind(address)
        .bind(send_attempt)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    pub async fn create_email_session(
        &self,
        sid: &str,
        client_secret: &str,
        user_id: &str,
        address: &str,
        token: &str,
        send_attempt: i64,
    ) -> Result<(), IsError> {
        sqlx::query(
            "INSERT INTO sessions (sid, client_secret_hash, user_id, nonce, created_ms, medium, address, token_hash, \
             send_attempt) VALUES ($1, $2, $3, '', $4, 'email', $5, $6, $7)",
        )
        .bind(sid)
        .bind(sha256_hex(client_secret))
        .bind(user_id)
        .bind(now_ms())
        .bind(address)
        .bind(sha256_hex(token))
        .bind(send_attempt)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn store_invite(&self, invite: &StoredInvite) -> Result<(), IsError> {
        sqlx::query(
            "INSERT INTO invites (token, medium, address, room_id, sender, ephemeral_public_key, \
             ephemeral_private_key, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&invite.token)
        .bind(&invite.medium)
        .bind(&invite.address)
        .bind(&invite.room_id)
        .bind(&invite.sender)
        .bind(&invite.ephemeral_public_key)
        .bind(&invite.ephemeral_private_key)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    fn invite_of(row: &sqlx::any::AnyRow) -> Result<StoredInvite, IsError> {
        Ok(StoredInvite {
            token: row.try_get(0)?,
            medium: row.try_get(1)?,
            address: row.try_get(2)?,
            room_id: row.try_get(3)?,
            sender: row.try_get(4)?,
            ephemeral_public_key: row.try_get(5)?,
            ephemeral_private_key: row.try_get(6)?,
        })
    }

    /// The invites for an address that no homeserver has taken yet.
    pub async fn pending_invites(&self, medium: &str, address: &str) -> Result<Vec<StoredInvite>, IsError> {
        let rows = sqlx::query(
            "SELECT token, medium, address, room_id, sender, ephemeral_public_key, ephemeral_private_key \
             FROM invites WHERE medium = $1 AND address = $2 AND delivered_ms IS NULL",
        )
        .bind(medium)
        .bind(address)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::invite_of).collect()
    }

    pub async fn invite(&self, token: &str) -> Result<Option<StoredInvite>, IsError> {
        let row = sqlx::query(
            "SELECT token, medium, address, room_id, sender, ephemeral_public_key, ephemeral_private_key \
             FROM invites WHERE token = $1",
        )
        .bind(token)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::invite_of).transpose()
    }

    /// The inviter's homeserver has the invite: the address is no longer kept.
    pub async fn invite_delivered(&self, token: &str) -> Result<(), IsError> {
        sqlx::query("UPDATE invites SET delivered_ms = $1, address = '' WHERE token = $2")
            .bind(now_ms())
            .bind(token)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether an ephemeral key belongs to an invite not yet taken.
    pub async fn ephemeral_key_valid(&self, public_key: &str) -> Result<bool, IsError> {
        let row = sqlx::query("SELECT 1 FROM invites WHERE ephemeral_public_key = $1 AND delivered_ms IS NULL")
            .bind(public_key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Invites whose address has been bound since, with the MXID it is bound to.
    pub async fn undelivered_bound_invites(&self) -> Result<Vec<(StoredInvite, String)>, IsError> {
        let rows = sqlx::query(
            "SELECT i.token, i.medium, i.address, i.room_id, i.sender, i.ephemeral_public_key, \
             i.ephemeral_private_key, b.mxid FROM invites i JOIN bindings b \
             ON b.medium = i.medium AND b.address = i.address WHERE i.delivered_ms IS NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((Self::invite_of(r)?, r.try_get(7)?))).collect()
    }
}
