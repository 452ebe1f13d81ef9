//! The care identity behind a Matrix ID: UZI, URA, role codes and the
//! directory resources, so a CareTeam can name the right Practitioner.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Store, StoreError, now_ms};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityBinding {
    pub user_id: String,
    pub uzi: String,
    pub ura: String,
    pub role_codes: Vec<String>,
    pub practitioner_url: Option<String>,
    pub practitioner_role_url: Option<String>,
    pub organisation: Option<String>,
    /// The identity service that vouched for it; `None`: the profile's word only.
    pub verified_by: Option<String>,
}

impl Store {
    pub async fn save_identity_binding(&self, b: &IdentityBinding) -> Result<(), StoreError> {
        // A list of strings always serialises.
        let roles = serde_json::to_string(&b.role_codes).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO identity_bindings (user_id, uzi, ura, role_codes, practitioner_url, practitioner_role_url, organisation, verified_by, updated_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT(user_id) DO UPDATE SET uzi = excluded.uzi, ura = excluded.ura, role_codes = excluded.role_codes,
               practitioner_url = excluded.practitioner_url, practitioner_role_url = excluded.practitioner_role_url,
               organisation = excluded.organisation, verified_by = excluded.verified_by, updated_ms = excluded.updated_ms",
        )
        .bind(&b.user_id)
        .bind(&b.uzi)
        .bind(&b.ura)
        .bind(roles)
        .bind(&b.practitioner_url)
        .bind(&b.practitioner_role_url)
        .bind(&b.organisation)
        .bind(&b.verified_by)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn identity_binding(&self, user_id: &str) -> Result<Option<IdentityBinding>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, uzi, ura, role_codes, practitioner_url, practitioner_role_url, organisation, verified_by
             FROM identity_bindings WHERE user_id = ?",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| IdentityBinding {
            user_id: r.get(0),
            uzi: r.get(1),
            ura: r.get(2),
            role_codes: serde_json::from_str(r.get::<&str, _>(3)).unwrap_or_default(),
            practitioner_url: r.get(4),
            practitioner_role_url: r.get(5),
            organisation: r.get(6),
            verified_by: r.get(7),
        }))
    }

    /// Of `user_ids`, those whose kept binding an identity service vouched for.
    pub async fn verified_users(&self, user_ids: &[String]) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for user_id in user_ids {
            let found: Option<(String,)> =
                sqlx::query_as("SELECT user_id FROM identity_bindings WHERE user_id = ? AND verified_by IS NOT NULL")
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await?;
            out.extend(found.map(|(u,)| u));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_binding_is_saved_replaced_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("kring.db")).await.unwrap();
        let mut b = IdentityBinding {
            user_id: "@noor:a".into(),
            uzi: "900100104".into(),
            ura: "90100001".into(),
            role_codes: vec!["30.000".into()],
            practitioner_url: Some("http://dir/fhir/Practitioner/1".into()),
            practitioner_role_url: None,
            organisation: Some("Ziekenhuis Aurora".into()),
            verified_by: None,
        };
        store.save_identity_binding(&b).await.unwrap();
        let ids = vec!["@noor:a".to_owned(), "@other:a".to_owned()];
        assert!(store.verified_users(&ids).await.unwrap().is_empty(), "a profile hint is not verified");
        b.role_codes.push("01.015".into());
        b.verified_by = Some("https://is.zorg-a.example/".into());
        store.save_identity_binding(&b).await.unwrap();
        assert_eq!(store.identity_binding("@noor:a").await.unwrap(), Some(b));
        assert_eq!(store.identity_binding("@other:a").await.unwrap(), None);
        assert_eq!(store.verified_users(&ids).await.unwrap(), vec!["@noor:a".to_owned()]);
    }
}
