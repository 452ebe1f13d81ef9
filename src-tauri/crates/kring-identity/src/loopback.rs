//! The loopback redirect of RFC 8252 §7.3: a one-shot HTTP listener on
//! 127.0.0.1 at a port the OS picks, which the browser is sent back to with
//! the IdP's (or the homeserver's) answer in the query string.
//!
//! Both the organisation login (authorization code) and the homeserver's SSO
//! (login token) end here, so there is one implementation of it.

use std::{collections::HashMap, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tracing::debug;
use url::Url;

/// The page the browser shows once Kring has what it needs.
const DONE_PAGE: &str = "<!doctype html><html lang=\"nl\"><head><meta charset=\"utf-8\"><title>Kring</title></head>\
<body style=\"font-family:system-ui,sans-serif;margin:3rem\"><h1>Je bent ingelogd</h1>\
<p>Ga terug naar Kring. Je kunt dit venster sluiten.</p>\
<p lang=\"en\">You are signed in. Return to Kring; you can close this window.</p></body></html>";

#[derive(Debug, thiserror::Error)]
pub enum LoopbackError {
    #[error("cannot listen on the loopback interface: {0}")]
    Bind(std::io::Error),
    #[error("no answer from the browser within {0:?}")]
    TimedOut(Duration),
}

pub struct LoopbackListener {
    listener: TcpListener,
    path: String,
}

impl LoopbackListener {
    /// Listens on 127.0.0.1 at a random free port; the redirect goes to `path`.
    pub async fn bind(path: &str) -> Result<Self, LoopbackError> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(LoopbackError::Bind)?;
        Ok(Self { listener, path: path.to_owned() })
    }

    /// The redirect URI to register with this request, e.g. `http://127.0.0.1:49152/callback`.
    pub fn redirect_uri(&self) -> Url {
        let port = self.listener.local_addr().map(|a| a.port()).unwrap_or_default();
        Url::parse(&format!("http://127.0.0.1:{port}{}", self.path)).expect("a loopback URL is valid")
    }

    /// Waits for the browser to arrive at the redirect path and returns its
    /// query parameters. Other requests (a favicon, a stray probe) get a 404
    /// and the wait goes on.
    pub async fn wait(self, timeout: Duration) -> Result<HashMap<String, String>, LoopbackError> {
        tokio::time::timeout(timeout, async {
            loop {
                let Ok((stream, _)) = self.listener.accept().await else { continue };
                if let Some(query) = self.answer(stream).await {
                    return query;
                }
            }
        })
        .await
        .map_err(|_| LoopbackError::TimedOut(timeout))
    }

    async fn answer(&self, mut stream: TcpStream) -> Option<HashMap<String, String>> {
        let target = read_request_target(&mut stream).await?;
        let url = Url::parse("http://127.0.0.1").ok()?.join(&target).ok()?;
        if url.path() != self.path {
            let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
            return None;
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncache-control: no-store\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{DONE_PAGE}",
            DONE_PAGE.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
        debug!("browser returned to the loopback redirect");
        Some(url.query_pairs().into_owned().collect())
    }
}

/// The request target of an HTTP/1 request (`GET /callback?code=… HTTP/1.1`),
/// read up to the end of the headers. Anything else is dropped.
async fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        // A redirect carries a code or token, never more than a few KiB.
        if buf.len() > 16 * 1024 {
            return None;
        }
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await.ok()?.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut parts = head.lines().next()?.split_whitespace();
    (parts.next()? == "GET").then_some(())?;
    parts.next().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(url: &str) -> String {
        let url = Url::parse(url).unwrap();
        let mut s = TcpStream::connect(("127.0.0.1", url.port().unwrap())).await.unwrap();
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        s.write_all(format!("GET {target} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n").as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn the_redirect_query_comes_back_and_strays_are_ignored() {
        let listener = LoopbackListener::bind("/callback").await.unwrap();
        let uri = listener.redirect_uri();
        assert_eq!(uri.host_str(), Some("127.0.0.1"));
        assert_ne!(uri.port(), Some(0));
        let base = format!("http://127.0.0.1:{}", uri.port().unwrap());
        let waiting = tokio::spawn(listener.wait(Duration::from_secs(5)));
        let stray = get(&format!("{base}/favicon.ico")).await;
        assert!(stray.starts_with("HTTP/1.1 404"), "{stray}");
        let page = get(&format!("{base}/callback?code=abc%20d&state=xyz")).await;
        assert!(page.starts_with("HTTP/1.1 200") && page.contains("Je bent ingelogd"), "{page}");
        let query = waiting.await.unwrap().unwrap();
        assert_eq!(query.get("code").map(String::as_str), Some("abc d"));
        assert_eq!(query.get("state").map(String::as_str), Some("xyz"));
    }

    #[tokio::test]
    async fn nobody_returning_is_a_timeout() {
        let listener = LoopbackListener::bind("/callback").await.unwrap();
        let err = listener.wait(Duration::from_millis(50)).await.unwrap_err();
        assert!(matches!(err, LoopbackError::TimedOut(_)));
    }
}
