//! Requests and answers as ruma's Identity Service API types define them
//! (`ruma-identity-service-api`), for the endpoints whose shape the spec
//! fixes: the same types Matrix clients and servers use, so a field the
//! spec names cannot be misspelt here. Kring's own endpoints (the IdP
//! medium, the reverse lookup) and those with Kring fields stay JSON.

use axum::{
    body::Body,
    extract::{FromRequest, Request},
    response::{IntoResponse, Response},
};
use ruma::api::{IncomingRequest, OutgoingResponse};

use crate::error::IsError;

/// The largest body a spec request may have (a `/lookup` of many hashes).
const MAX_BODY: usize = 4 << 20;

/// A request parsed by its ruma type (method, query and JSON body).
pub struct Ruma<R>(pub R);

impl<R: IncomingRequest, S: Send + Sync> FromRequest<S> for Ruma<R> {
    type Rejection = IsError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, IsError> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| IsError::NotJson(e.to_string()))?;
        // None of the endpoints served through ruma has a path argument
        // that ruma reads (pubkey's key id is taken by axum's Path).
        let no_path_args: [&str; 0] = [];
        R::try_from_http_request(axum::http::Request::from_parts(parts, bytes), &no_path_args)
            .map(Self)
            .map_err(|e| IsError::BadJson(e.to_string()))
    }
}

/// An answer serialised by its ruma type.
pub struct Answer<R>(pub R);

impl<R: OutgoingResponse> IntoResponse for Answer<R> {
    fn into_response(self) -> Response {
        match self.0.try_into_http_response::<Vec<u8>>() {
            Ok(response) => response.map(Body::from).into_response(),
            Err(e) => IsError::Internal(format!("answer not serialisable: {e}")).into_response(),
        }
    }
}
