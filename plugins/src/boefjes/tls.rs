//! TLS for the web boefjes. A scanner must see what a server presents,
//! including expired, self-signed or misnamed certificates, so its client
//! accepts any certificate chain (it records, it does not trust) while the
//! handshake signatures are still checked with the crypto provider's
//! algorithms. [`client_config`] is that configuration (rustls with
//! aws-lc-rs); [`fetch_chain`] does a handshake and returns the chain the
//! server sent, leaf first.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use super::BoefjeError;

/// Accepts every certificate chain; checks handshake signatures.
#[derive(Debug)]
struct RecordAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for RecordAnyCertificate {
    fn verify_server_cert(&self, _end_entity: &CertificateDer<'_>, _intermediates: &[CertificateDer<'_>], _server_name: &ServerName<'_>, _ocsp: &[u8], _now: UnixTime) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A client configuration that records whatever certificate a server presents.
pub fn client_config() -> Result<ClientConfig, BoefjeError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| BoefjeError::Scan(format!("cannot set up TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(RecordAnyCertificate(provider)))
        .with_no_client_auth();
    Ok(config)
}

/// Connect to `addr`, do a TLS handshake for `hostname` (SNI) and return the certificate chain the server sent,
/// leaf first, as DER.
pub async fn fetch_chain(addr: SocketAddr, hostname: &str, timeout: Duration) -> Result<Vec<Vec<u8>>, BoefjeError> {
    let name = ServerName::try_from(hostname.to_string()).map_err(|_| BoefjeError::Scan(format!("{hostname:?} is not a name TLS can ask for")))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config()?));
    let handshake = async {
        let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| BoefjeError::Scan(format!("cannot connect to {addr}: {e}")))?;
        connector.connect(name, tcp).await.map_err(|e| BoefjeError::Scan(format!("TLS handshake with {addr} for {hostname} failed: {e}")))
    };
    let stream = tokio::time::timeout(timeout, handshake).await.map_err(|_| BoefjeError::Scan(format!("TLS handshake with {addr} took longer than {} s", timeout.as_secs())))??;
    let chain = stream.get_ref().1.peer_certificates().unwrap_or_default().iter().map(|c| c.as_ref().to_vec()).collect();
    Ok(chain)
}
