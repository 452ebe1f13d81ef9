//! The service's long-term ed25519 key (`ed25519:0`), made on first start
//! and kept in the database across restarts, and the lookup pepper.

use base64::{Engine, engine::general_purpose::STANDARD_NO_PAD};
use ruma::{CanonicalJsonObject, signatures::Ed25519KeyPair};

use crate::{error::IsError, store::Store};

pub const KEY_ID: &str = "ed25519:0";

pub struct Keys {
    pair: Ed25519KeyPair,
    /// Unpadded standard base64, as `/pubkey` answers it.
    pub public_key: String,
    server_name: String,
    pub pepper: String,
}

fn internal(e: impl std::fmt::Display) -> IsError {
    IsError::Internal(e.to_string())
}

impl Keys {
    pub async fn load(store: &Store, server_name: &str) -> Result<Self, IsError> {
        let der = store.secret(KEY_ID, || STANDARD_NO_PAD.encode(Ed25519KeyPair::generate().as_slice())).await?;
        let der = STANDARD_NO_PAD.decode(der).map_err(internal)?;
        let pair = Ed25519KeyPair::from_der(&der, "0".into()).map_err(internal)?;
        let public_key = STANDARD_NO_PAD.encode(pair.public_key());
        let pepper = store
            .secret("lookup_pepper", || {
                use rand::Rng;
                let bytes: [u8; 24] = rand::rng().random();
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
            })
            .await?;
        Ok(Self { pair, public_key, server_name: server_name.to_owned(), pepper })
    }

    /// Signs a JSON object the way Matrix servers do (canonical JSON,
    /// `signatures.<server_name>.ed25519:0`).
    pub fn sign(&self, value: serde_json::Value) -> Result<serde_json::Value, IsError> {
        sign_with(&self.server_name, &self.pair, value)
    }

    /// Signs with an invite's ephemeral key (`/sign-ed25519`), under this
    /// service's name like the long-term key.
    pub fn sign_ephemeral(&self, private_key: &str, value: serde_json::Value) -> Result<serde_json::Value, IsError> {
        let der = STANDARD_NO_PAD.decode(private_key).map_err(internal)?;
        let pair = Ed25519KeyPair::from_der(&der, "0".into()).map_err(internal)?;
        sign_with(&self.server_name, &pair, value)
    }
}

/// A fresh ed25519 pair for one invite: (public, private), unpadded base64
/// (the private one as the PKCS#8 document ruma reads back).
pub fn ephemeral_pair() -> Result<(String, String), IsError> {
    let der = Ed25519KeyPair::generate();
    let pair = Ed25519KeyPair::from_der(&der, "0".into()).map_err(internal)?;
    Ok((STANDARD_NO_PAD.encode(pair.public_key()), STANDARD_NO_PAD.encode(der.as_slice())))
}

fn sign_with(server_name: &str, pair: &Ed25519KeyPair, value: serde_json::Value) -> Result<serde_json::Value, IsError> {
    let serde_json::Value::Object(map) = value else { return Err(internal("only objects are signed")) };
    let mut object: CanonicalJsonObject = ruma::canonical_json::try_from_json_map(map).map_err(internal)?;
    ruma::signatures::sign_json(server_name, pair, &mut object).map_err(internal)?;
    serde_json::to_value(object).map_err(internal)
}

impl Keys {
    /// The lookup hash of a 3PID: sha256 over "address medium pepper",
    /// unpadded URL-safe base64 (Identity Service API, `/lookup`).
    pub fn lookup_hash(&self, medium: &str, address: &str) -> String {
        lookup_hash(medium, address, &self.pepper)
    }
}

pub fn lookup_hash(medium: &str, address: &str, pepper: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{address} {medium} {pepper}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_lookup_hash_is_the_specs_example() {
        // Identity Service API v2, "/lookup": alice@example.com, email, pepper "matrixrocks".
        assert_eq!(
            super::lookup_hash("email", "alice@example.com", "matrixrocks"),
            "4kenr7N9drpCJ4AfalmlGQVsOn3o2RHjkADUpXJWZUc"
        );
    }
}
