//! A real HTTP/1.1 server for tests: a TCP listener on a chosen loopback
//! address that answers each path with a status, the headers and the body a
//! test chose, and 404 for other paths, over plain TCP or over TLS with a
//! certificate generated for the test ([`test_certificate`]: any names,
//! any validity, so expired and misnamed ones too). Each response closes
//! its connection. It runs on the caller's tokio runtime until dropped.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
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

/// The pages a server answers with, which a test may change while it runs.
type Pages = std::sync::Arc<std::sync::RwLock<BTreeMap<String, Page>>>;

/// A running server; it stops when dropped.
#[derive(Debug)]
pub struct WebServer {
    /// Where it listens.
    pub addr: SocketAddr,
    pages: Pages,
    task: tokio::task::JoinHandle<()>,
}

impl WebServer {
    /// Answer with `pages` from now on (a site that changes between two scans).
    pub fn set_pages(&self, pages: BTreeMap<String, Page>) {
        *self.pages.write().unwrap_or_else(std::sync::PoisonError::into_inner) = pages;
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A certificate and its private key, for [`start_tls_web_server`].
#[derive(Debug, Clone)]
pub struct TestCertificate {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Its private key, PKCS#8 DER.
    pub key_der: Vec<u8>,
}

/// A self-signed certificate for `names` (its subject alternative names; the first is also the subject's common
/// name) valid from `not_before` to `not_after`, with serial number `serial`.
pub fn test_certificate(names: &[&str], not_before: time::OffsetDateTime, not_after: time::OffsetDateTime, serial: u64) -> Result<TestCertificate, String> {
    let key = rcgen::KeyPair::generate().map_err(|e| format!("generating a key: {e}"))?;
    let mut params = rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).map_err(|e| format!("certificate names: {e}"))?;
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(rcgen::SerialNumber::from(serial));
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, names.first().copied().unwrap_or("test"));
    let cert = params.self_signed(&key).map_err(|e| format!("signing the certificate: {e}"))?;
    Ok(TestCertificate { der: cert.der().to_vec(), key_der: key.serialize_der() })
}

/// Serve `pages` (path to answer) on `addr` (port 0 for a free one). Binding a port below 1024 needs root; the
/// error says which address could not be bound.
pub async fn start_web_server(addr: &str, pages: BTreeMap<String, Page>) -> Result<WebServer, String> {
    serve(addr, pages, None).await
}

/// [`start_web_server`] over TLS with `certificate`.
pub async fn start_tls_web_server(addr: &str, pages: BTreeMap<String, Page>, certificate: &TestCertificate) -> Result<WebServer, String> {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::try_from(certificate.key_der.clone()).map_err(|e| format!("the test key: {e}"))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(vec![rustls::pki_types::CertificateDer::from(certificate.der.clone())], key)
        .map_err(|e| format!("the test certificate: {e}"))?;
    serve(addr, pages, Some(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))).await
}

async fn serve(addr: &str, pages: BTreeMap<String, Page>, tls: Option<tokio_rustls::TlsAcceptor>) -> Result<WebServer, String> {
    let listener = TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr} for the test web server: {e} (ports below 1024 need root; is something else listening there?)"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let pages: Pages = std::sync::Arc::new(std::sync::RwLock::new(pages));
    let shared = pages.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let pages = shared.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            answer(stream, &pages).await;
                        }
                    }
                    None => answer(stream, &pages).await,
                }
            });
        }
    });
    Ok(WebServer { addr, pages, task })
}

/// Read one request and answer it from `pages`.
async fn answer(mut stream: impl AsyncRead + AsyncWrite + Unpin, pages: &Pages) {
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
    let page = pages.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&path).cloned().unwrap_or(not_found);
    let mut response = format!("HTTP/1.1 {} X\r\n", page.status);
    for (name, value) in &page.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", page.body.len()));
    let mut bytes = response.into_bytes();
    bytes.extend_from_slice(&page.body);
    let _ = stream.write_all(&bytes).await;
    let _ = stream.shutdown().await;
}
