//! TLS on the service's one port. Synapse reaches identity servers over
//! https only; clients on the same machine (the test stack, a reverse proxy
//! on the host) may still speak plain HTTP. A connection is TLS when its
//! first byte opens a TLS handshake; plain HTTP is refused from any peer
//! that is not loopback.

use std::{net::SocketAddr, path::Path, sync::Arc};

use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tokio_util::either::Either;

use crate::{config::Tls, error::IsError};

/// The TLS record type of a handshake: the first byte of every ClientHello.
const HANDSHAKE: u8 = 0x16;

pub type Io = Either<TlsStream<TcpStream>, TcpStream>;

/// Accepts on a background task and hands over connections once their TLS
/// handshake is done, so one slow peer does not hold up the others.
pub struct DualListener {
    ready: mpsc::Receiver<(Io, SocketAddr)>,
    local: SocketAddr,
}

fn acceptor(tls: &Tls) -> Result<TlsAcceptor, IsError> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| IsError::Internal(format!("{}: {e}", p.display())));
    let certs = CertificateDer::pem_slice_iter(&read(&tls.cert_path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| IsError::Internal(format!("tls certificate: {e}")))?;
    let key =
        PrivateKeyDer::from_pem_slice(&read(&tls.key_path)?).map_err(|e| IsError::Internal(format!("tls key: {e}")))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| IsError::Internal(format!("tls: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

impl DualListener {
    pub fn new(listener: TcpListener, tls: &Tls) -> Result<Self, IsError> {
        let acceptor = acceptor(tls)?;
        let local = listener.local_addr().map_err(|e| IsError::Internal(e.to_string()))?;
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!("accept: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let mut first = [0u8; 1];
                    let io = match stream.peek(&mut first).await {
                        Ok(1) if first[0] == HANDSHAKE => match acceptor.accept(stream).await {
                            Ok(tls) => Either::Left(tls),
                            Err(e) => return tracing::debug!(%peer, "tls handshake: {e}"),
                        },
                        // `to_canonical`: on a dual-stack listener loopback arrives as ::ffff:127.0.0.1.
                        Ok(1) if peer.ip().to_canonical().is_loopback() => Either::Right(stream),
                        _ => return tracing::debug!(%peer, "plain HTTP refused from a peer that is not loopback"),
                    };
                    let _ = tx.send((io, peer)).await;
                });
            }
        });
        Ok(Self { ready, local })
    }
}

impl axum::serve::Listener for DualListener {
    type Io = Io;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Io, SocketAddr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept task ended (only with the runtime): never hand out more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}
