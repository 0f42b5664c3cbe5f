//! A real HTTP/1.1 server for tests: a TCP listener on a chosen loopback
//! address that answers each path with a status, the headers and the body a
//! test chose, and 404 for other paths. Each response closes its
//! connection. It runs on the caller's tokio runtime until dropped.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the server answers for one path.
#[derive(Debug, Clone)]
pub struct Page {
    /// The status code.
    pub status: u16,
    /// The headers, in order (`Content-Length` and `Connection` are added).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Page {
    /// A 200 answer with these headers and body.
    pub fn ok(headers: &[(&str, &str)], body: &str) -> Page {
        Page::with_status(200, headers, body)
    }

    /// An answer with this status, headers and body.
    pub fn with_status(status: u16, headers: &[(&str, &str)], body: &str) -> Page {
        Page { status, headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), body: body.as_bytes().to_vec() }
    }
}

/// A running server; it stops when dropped.
#[derive(Debug)]
pub struct WebServer {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WebServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serve `pages` (path to answer) on `addr` (port 0 for a free one). Binding a port below 1024 needs root; the
/// error says which address could not be bound.
pub async fn start_web_server(addr: &str, pages: BTreeMap<String, Page>) -> Result<WebServer, String> {
    let listener = TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr} for the test web server: {e} (ports below 1024 need root; is something else listening there?)"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let pages = std::sync::Arc::new(pages);
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let pages = pages.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 64 * 1024 {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
                let not_found = Page::with_status(404, &[("Content-Type", "text/plain")], "not found");
                let page = pages.get(&path).unwrap_or(&not_found);
                let mut response = format!("HTTP/1.1 {} X\r\n", page.status);
                for (name, value) in &page.headers {
                    response.push_str(&format!("{name}: {value}\r\n"));
                }
                response.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", page.body.len()));
                let mut bytes = response.into_bytes();
                bytes.extend_from_slice(&page.body);
                let _ = stream.write_all(&bytes).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Ok(WebServer { addr, task })
}
