//! One TLS client configuration per process, shared by every HTTP client in it (reqwest, and
//! through it the AWS SDK in the Lambdas), whose root certificates are loaded from the system
//! on the first handshake that needs them, once.
//!
//! Loading the system's roots means reading every file of `/etc/ssl/certs`: it was most of a
//! Lambda's cold start (done once for the AWS SDK and once for reqwest) and most of `stk`'s run
//! against a local `http://` API, which never needs it.

use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

/// The process's client configuration (cheap to clone: it shares its parts).
pub fn client_config() -> rustls::ClientConfig {
    static CONFIG: OnceLock<rustls::ClientConfig> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let verifier = lazy_roots();
            rustls::ClientConfig::builder_with_provider(verifier.provider.clone())
                .with_safe_default_protocol_versions()
                .expect("the default provider supports the default protocol versions")
                .dangerous()
                .with_custom_certificate_verifier(verifier.clone())
                .with_no_client_auth()
        })
        .clone()
}

/// Whether this process has loaded the system's root certificates yet.
pub fn roots_loaded() -> bool {
    lazy_roots().verifier.get().is_some()
}

fn lazy_roots() -> &'static Arc<LazyRoots> {
    static ROOTS: OnceLock<Arc<LazyRoots>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        Arc::new(LazyRoots {
            algorithms: provider.signature_verification_algorithms,
            provider,
            verifier: OnceLock::new(),
        })
    })
}

/// The standard WebPKI verification against the system's roots, loaded when first asked.
/// Signatures are checked without the roots, by the provider's algorithms, as rustls' own
/// verifier does.
#[derive(Debug)]
struct LazyRoots {
    provider: Arc<CryptoProvider>,
    algorithms: WebPkiSupportedAlgorithms,
    verifier: OnceLock<Result<Arc<WebPkiServerVerifier>, String>>,
}

impl LazyRoots {
    fn verifier(&self) -> Result<&Arc<WebPkiServerVerifier>, Error> {
        self.verifier
            .get_or_init(|| {
                let mut roots = RootCertStore::empty();
                // Unreadable files are skipped, as every TLS stack does; no root at all is
                // reported below.
                let loaded = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(loaded.certs);
                if roots.is_empty() {
                    return Err(
                        "no root certificate could be read from the system: install the ca-certificates package or set SSL_CERT_FILE"
                            .to_owned(),
                    );
                }
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                    .build()
                    .map_err(|e| format!("the system's root certificates are unusable: {e}"))
            })
            .as_ref()
            .map_err(|message| Error::General(message.clone()))
    }
}

impl ServerCertVerifier for LazyRoots {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_loaded_by_the_first_certificate_to_verify_and_only_then() {
        let first = client_config();
        let second = client_config();
        assert!(Arc::ptr_eq(
            first.crypto_provider(),
            second.crypto_provider()
        ));
        assert!(!roots_loaded(), "building configurations loads no root");

        let name = ServerName::try_from("example.com").unwrap();
        let refused = lazy_roots().verify_server_cert(
            &CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]),
            &[],
            &name,
            &[],
            UnixTime::now(),
        );
        assert!(refused.is_err(), "a malformed certificate is refused");
        assert!(roots_loaded());
    }
}
