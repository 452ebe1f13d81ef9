//! Errors as the Identity Service API answers them: an HTTP status and a
//! JSON body `{errcode, error}`. Kring's own codes use the `nl.kring.`
//! namespace, as the spec asks of custom codes; each is stable.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum IsError {
    #[error("no or unknown identity-service token")]
    Unauthorized,
    #[error("the user has not accepted the terms of service")]
    TermsNotSigned,
    #[error("{0}")]
    InvalidParam(String),
    #[error("{0}")]
    MissingParams(String),
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body is not the JSON asked for: {0}")]
    BadJson(String),
    #[error("the pepper does not match")]
    InvalidPepper,
    #[error("unknown validation session")]
    NoValidSession,
    #[error("the validation session is not validated yet")]
    SessionNotValidated,
    #[error("{0}")]
    Forbidden(String),
    #[error("this 3PID is bound to another Matrix account")]
    ThreepidInUse,
    #[error("the homeserver did not vouch for this OpenID token: {0}")]
    OpenIdRejected(String),
    #[error("this homeserver is not served by this identity service: {0}")]
    HomeserverNotTrusted(String),
    #[error("the ID token's issuer is not on this service's trust list: {0}")]
    IdpNotTrusted(String),
    #[error("this ID token was submitted before")]
    TokenReplayed,
    #[error("the ID token has expired")]
    TokenExpired,
    #[error("the ID token was not issued for this validation session (nonce)")]
    NonceMismatch,
    #[error("the ID token is not valid: {0}")]
    TokenInvalid(String),
    #[error("the ID token lacks the {0} claim")]
    ClaimMissing(&'static str),
    #[error("the organisation's IdP cannot be reached: {0}")]
    IdpUnreachable(String),
    #[error("not found")]
    NotFound,
    #[error("this is not an e-mail address")]
    EmailInvalid,
    #[error("the mail could not be sent: {0}")]
    EmailNotSent(String),
    #[error("this service sends no mail (no smtp configured)")]
    EmailNotConfigured,
    #[error("the code does not match")]
    TokenIncorrect,
    #[error("too many requests; try again in {0} s")]
    LimitExceeded(u64),
    #[error("internal error: {0}")]
    Internal(String),
}

impl IsError {
    pub fn errcode(&self) -> &'static str {
        match self {
            Self::Unauthorized => "M_UNAUTHORIZED",
            Self::TermsNotSigned => "M_TERMS_NOT_SIGNED",
            Self::InvalidParam(_) => "M_INVALID_PARAM",
            Self::MissingParams(_) => "M_MISSING_PARAMS",
            Self::NotJson(_) => "M_NOT_JSON",
            Self::BadJson(_) => "M_BAD_JSON",
            Self::InvalidPepper => "M_INVALID_PEPPER",
            Self::NoValidSession => "M_NO_VALID_SESSION",
            Self::SessionNotValidated => "M_SESSION_NOT_VALIDATED",
            Self::Forbidden(_) => "M_FORBIDDEN",
            Self::ThreepidInUse => "M_THREEPID_IN_USE",
            Self::OpenIdRejected(_) => "M_UNKNOWN_TOKEN",
            Self::HomeserverNotTrusted(_) => "nl.kring.homeserver_not_trusted",
            Self::IdpNotTrusted(_) => "nl.kring.idp_not_trusted",
            Self::TokenReplayed => "nl.kring.token_replayed",
            Self::TokenExpired => "nl.kring.token_expired",
            Self::NonceMismatch => "nl.kring.nonce_mismatch",
            Self::TokenInvalid(_) => "nl.kring.token_invalid",
            Self::ClaimMissing(_) => "nl.kring.claim_missing",
            Self::IdpUnreachable(_) => "nl.kring.idp_unreachable",
            Self::NotFound => "M_NOT_FOUND",
            Self::EmailInvalid => "M_INVALID_EMAIL",
            Self::EmailNotSent(_) => "M_EMAIL_SEND_ERROR",
            Self::EmailNotConfigured => "nl.kring.email_not_configured",
            Self::TokenIncorrect => "M_TOKEN_INCORRECT",
            Self::LimitExceeded(_) => "M_LIMIT_EXCEEDED",
            Self::Internal(_) => "M_UNKNOWN",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized | Self::OpenIdRejected(_) => StatusCode::UNAUTHORIZED,
            Self::TermsNotSigned
            | Self::Forbidden(_)
            | Self::HomeserverNotTrusted(_)
            | Self::IdpNotTrusted(_)
            | Self::TokenReplayed
            | Self::TokenExpired
            | Self::NonceMismatch
            | Self::TokenInvalid(_) => StatusCode::FORBIDDEN,
            Self::NotFound | Self::NoValidSession => StatusCode::NOT_FOUND,
            Self::IdpUnreachable(_) | Self::EmailNotSent(_) => StatusCode::BAD_GATEWAY,
            Self::LimitExceeded(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for IsError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!("{detail}");
        }
        let mut body = json!({"errcode": self.errcode(), "error": self.to_string()});
        if let Self::LimitExceeded(seconds) = &self {
            body["retry_after_ms"] = json!(seconds * 1000);
        }
        (self.status(), Json(body)).into_response()
    }
}

impl From<sqlx::Error> for IsError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(format!("database: {e}"))
    }
}
