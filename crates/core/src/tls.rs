//! The TLS configuration the HTTP clients use: rustls on aws-lc-rs (the provider that also
//! signs the JWTs), verifying servers with
//! - the system's trusted roots (the platform verifier), unless `SSL_CERT_FILE` is set;
//! - the CA certificates of the PEM bundle `SSL_CERT_FILE` names, when it is set. The package
//!   reads it itself ([`load_bundle`], through the bounded reader of [`crate::files`]), so an
//!   unusable file (missing, empty, not PEM certificates, a directory, a FIFO, a device) is an
//!   `ERR_INVALID_ARG` saying why, not an `UnknownIssuer` at the handshake. It is read at each
//!   upstream request that needs TLS (a rotated bundle takes effect); a bundle already parsed
//!   is known by its SHA-256 and not parsed again.
//!
//! Loading the system roots takes ~6 ms, and reqwest would do it once per client when the
//! client is built. Here they are loaded once, at the first TLS handshake: a process that only
//! talks plain HTTP to the metadata service never pays for them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use aws_lc_rs::digest;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::RootCertStore;

use crate::env::SSL_CERT_FILE;
use crate::error::{Error, Result};
use crate::files::{self, FileError};
use crate::limits::MAX_CA_BUNDLE_BYTES;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_platform_verifier::Verifier;

/// Whom a client trusts.
#[derive(Clone)]
pub enum Trust {
    /// The system's roots.
    Platform,
    /// The CA bundle of `SSL_CERT_FILE`, known by the SHA-256 of its bytes.
    Bundle {
        digest: [u8; 32],
        config: Arc<ClientConfig>,
    },
}

impl Trust {
    /// What tells clients apart: `None` for the platform's roots, else the bundle's digest.
    pub fn id(&self) -> Option<[u8; 32]> {
        match self {
            Trust::Platform => None,
            Trust::Bundle { digest, .. } => Some(*digest),
        }
    }

    pub fn config(&self) -> std::result::Result<ClientConfig, rustls::Error> {
        match self {
            Trust::Platform => client_config(),
            Trust::Bundle { config, .. } => Ok(ClientConfig::clone(config)),
        }
    }
}

/// Bundles kept parsed at once (a process uses one).
const MAX_KEPT_BUNDLES: usize = 4;

/// Reads and parses the CA bundle at `path` (the value of `SSL_CERT_FILE`). Blocking: async
/// callers run it through [`files::read_off_thread`].
pub fn load_bundle(path: &str) -> Result<Trust> {
    let unusable = |why: String| {
        Error::invalid_arg(format!(
            "the file named by {SSL_CERT_FILE} ({}) could not be used: {why}. Point \
             {SSL_CERT_FILE} at a PEM file of CA certificates (-----BEGIN CERTIFICATE-----), \
             or unset it to trust the system's roots",
            crate::redact::caller_text(path)
        ))
    };
    let bytes = files::read(path, MAX_CA_BUNDLE_BYTES).map_err(|e| match e {
        FileError::TooLarge { .. } => unusable(format!(
            "it is larger than {} MiB, too large for a CA bundle",
            MAX_CA_BUNDLE_BYTES >> 20
        )),
        e => unusable(e.to_string()),
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(unusable("it is empty".into()));
    }
    let digest = {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest::digest(&digest::SHA256, &bytes).as_ref());
        out
    };
    static KEPT: OnceLock<Mutex<HashMap<[u8; 32], Arc<ClientConfig>>>> = OnceLock::new();
    let kept = KEPT.get_or_init(Default::default);
    let lock = || kept.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(config) = lock().get(&digest) {
        return Ok(Trust::Bundle {
            digest,
            config: config.clone(),
        });
    }
    let mut certificates = Vec::new();
    for certificate in CertificateDer::pem_slice_iter(&bytes) {
        // The PEM error would quote the file's lines: say what is wrong, not what is there.
        certificates.push(certificate.map_err(|_| {
            unusable("a PEM section in it is damaged (a missing END line, or bad base64)".into())
        })?);
    }
    if certificates.is_empty() {
        return Err(unusable(
            "it holds no PEM certificate (is it DER, a key, or another kind of file?)".into(),
        ));
    }
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certificates.iter().cloned());
    if added == 0 {
        return Err(unusable(format!(
            "none of its {} certificates could be parsed",
            certificates.len()
        )));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| unusable(format!("its certificates cannot be used as roots ({e})")))?;
    let config = Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| unusable(format!("TLS cannot be set up ({e})")))?
            .with_webpki_verifier(verifier)
            .with_no_client_auth(),
    );
    let mut kept = lock();
    if kept.len() >= MAX_KEPT_BUNDLES {
        kept.clear();
    }
    kept.insert(digest, config.clone());
    Ok(Trust::Bundle { digest, config })
}

/// The shared platform configuration (cheap to clone: its parts are behind `Arc`s).
pub fn client_config() -> std::result::Result<ClientConfig, rustls::Error> {
    static CONFIG: OnceLock<std::result::Result<ClientConfig, rustls::Error>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let verifier = Arc::new(LazyVerifier {
                provider: provider.clone(),
                verifier: OnceLock::new(),
            });
            Ok(ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()?
                .dangerous() // only to install the verifier below, which is the platform's
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth())
        })
        .clone()
}

/// The platform verifier, made at its first use.
#[derive(Debug)]
struct LazyVerifier {
    provider: Arc<CryptoProvider>,
    verifier: OnceLock<std::result::Result<Verifier, rustls::Error>>,
}

impl LazyVerifier {
    fn get(&self) -> std::result::Result<&Verifier, rustls::Error> {
        self.verifier
            .get_or_init(|| Verifier::new(self.provider.clone()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl ServerCertVerifier for LazyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        self.get()?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.get()?.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.get()?.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    /// A self-signed P-256 CA (public certificate only), valid until 2126.
    const CA_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBrzCCAVWgAwIBAgIUa0qwUTwpeghlhv1quBYX8zVDyIwwCgYIKoZIzj0EAwIw\nJDEiMCAGA1UEAwwZeWMtaWFtLXRva2VuIHVuaXQgdGVzdCBDQTAgFw0yNjEyMDEy\nMjU5NTBaGA8yMTI2MTEwNzIyNTk1MFowJDEiMCAGA1UEAwwZeWMtaWFtLXRva2Vu\nIHVuaXQgdGVzdCBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABGAeV3P7GajG\nBH/zX2csvqtZws96XJHzozSJfr/D3Dj/HWEz8nBO3C2hqcMGuv7sTmZRtduHk2A+\nJLszjcrJkWejYzBhMB0GA1UdDgQWBBRytkHfUH6j7iXfwjBSfqIlp/YoFDAfBgNV\nHSMEGDAWgBRytkHfUH6j7iXfwjBSfqIlp/YoFDAPBgNVHRMBAf8EBTADAQH/MA4G\nA1UdDwEB/wQEAwICBDAKBggqhkjOPQQDAgNIADBFAiBlRYtq5mbYu1PRM1q3sfZC\nyiWG57ct3irKcQe1WcxoSgIhAIKGWrJsMAcaaBUgXMp40JuPzXrff0+WsreyDD8I\nUc6x\n-----END CERTIFICATE-----\n";

    fn why(path: &str) -> String {
        let e = load_bundle(path).err().expect("refused");
        assert_eq!(e.code, ErrorCode::InvalidArg);
        assert!(e.message.contains("SSL_CERT_FILE"), "{}", e.message);
        assert!(e.message.contains("could not be used"), "{}", e.message);
        e.message
    }

    #[test]
    fn a_bundle_is_read_parsed_and_known_by_its_digest() {
        let dir = std::env::temp_dir().join(format!("yc-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = |name: &str, bytes: &[u8]| {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            path.to_string_lossy().into_owned()
        };
        let good = file(
            "ca.pem",
            format!("# a comment\n{CA_PEM}\n{CA_PEM}").as_bytes(),
        );
        let first = load_bundle(&good).unwrap();
        let again = load_bundle(&good).unwrap();
        assert!(first.id().is_some());
        assert_eq!(first.id(), again.id());
        assert!(first.config().is_ok());

        let missing = dir.join("missing.pem").to_string_lossy().into_owned();
        assert!(why(&missing).contains("no such file"));
        assert!(why(&file("empty.pem", b"")).contains("is empty"));
        assert!(why(&file("blank.pem", b" \n\n")).contains("is empty"));
        assert!(why(&file("text.pem", b"hello")).contains("no PEM certificate"));
        assert!(why(&file(
            "key.pem",
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        ))
        .contains("no PEM certificate"));
        let truncated = &CA_PEM[..CA_PEM.len() - 30];
        assert!(why(&file("cut.pem", truncated.as_bytes())).contains("damaged"));
        let garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(why(&file("garbage.pem", garbage.as_bytes())).contains("could be parsed"));
        assert!(why(dir.to_str().unwrap()).contains("(a directory)"));
        assert!(why("/dev/zero").contains("(a character device)"));
        #[cfg(unix)]
        {
            let fifo = dir.join("fifo");
            let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            assert!(why(fifo.to_str().unwrap()).contains("FIFO"));
        }
        let big = std::fs::File::create(dir.join("big.pem")).unwrap();
        big.set_len((MAX_CA_BUNDLE_BYTES + 1) as u64).unwrap();
        assert!(why(dir.join("big.pem").to_str().unwrap()).contains("too large"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
