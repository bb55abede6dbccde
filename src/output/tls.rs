//! TLS settings built from Falco's keys, with rustls: the http output's client side
//! (`ca_cert`, then `ca_bundle`, then `ca_path` as trust anchors; `insecure` turns peer and host
//! verification off; `mtls` presents `client_cert`/`client_key`) and the webserver's server
//! side (`ssl_certificate`: one PEM holding the certificate chain and the private key).

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{CryptoProvider, ring};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme,
};

use crate::config::HttpOutput;

/// A TLS setup error.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no certificate in {path}")]
    NoCertificate { path: String },
    #[error("no private key in {path}")]
    NoKey { path: String },
    #[error("no usable CA certificate (ca_cert, ca_bundle, ca_path)")]
    NoRoots,
    #[error("TLS configuration: {0}")]
    Rustls(#[from] tokio_rustls::rustls::Error),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let f = std::fs::File::open(path).map_err(|source| TlsError::Read {
        path: path.to_string(),
        source,
    })?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut BufReader::new(f))
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_string(),
        });
    }
    Ok(certs)
}

fn read_key(path: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    let f = std::fs::File::open(path).map_err(|source| TlsError::Read {
        path: path.to_string(),
        source,
    })?;
    rustls_pemfile::private_key(&mut BufReader::new(f))
        .ok()
        .flatten()
        .ok_or_else(|| TlsError::NoKey {
            path: path.to_string(),
        })
}

/// Trust anchors: `ca_cert` if set, else `ca_bundle`, else every certificate file in `ca_path`
/// (libcurl's CAINFO / CAPATH order).
fn roots(cfg: &HttpOutput) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    let file = if !cfg.ca_cert.is_empty() {
        Some(&cfg.ca_cert)
    } else if !cfg.ca_bundle.is_empty() {
        Some(&cfg.ca_bundle)
    } else {
        None
    };
    match file {
        Some(f) => {
            for c in read_certs(f)? {
                let _ = store.add(c);
            }
        }
        None => {
            if let Ok(dir) = std::fs::read_dir(Path::new(&cfg.ca_path)) {
                for entry in dir.filter_map(Result::ok) {
                    if let Some(p) = entry.path().to_str()
                        && let Ok(certs) = read_certs(p)
                    {
                        for c in certs {
                            let _ = store.add(c);
                        }
                    }
                }
            }
        }
    }
    if store.is_empty() && !cfg.insecure {
        return Err(TlsError::NoRoots);
    }
    Ok(store)
}

/// `http_output.insecure`: accepts any certificate for any host.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, tokio_rustls::rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The client configuration of the http output.
pub fn client_config(cfg: &HttpOutput) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let builder = if cfg.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        builder.with_root_certificates(roots(cfg)?)
    };
    let config = if cfg.mtls {
        builder.with_client_auth_cert(read_certs(&cfg.client_cert)?, read_key(&cfg.client_key)?)?
    } else {
        builder.with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The server configuration of the webserver: `pem` holds the certificate chain and the key.
pub fn server_config(pem: &str) -> Result<Arc<ServerConfig>, TlsError> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(read_certs(pem)?, read_key(pem)?)?;
    Ok(Arc::new(config))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A test CA and a server certificate for localhost/127.0.0.1 it signed, made with the
    /// openssl CLI: (dir, ca.pem, key.pem, combined cert+key PEM).
    pub(crate) fn self_signed() -> Option<(tempfile::TempDir, String, String, String)> {
        let dir = tempfile::tempdir().ok()?;
        let d = dir.path();
        let run = |args: &[&str]| -> Option<()> {
            std::process::Command::new("openssl")
                .args(args)
                .current_dir(d)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .ok()?
                .success()
                .then_some(())
        };
        std::fs::write(
            d.join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n",
        )
        .ok()?;
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=falco-rs test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ])?;
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
        ])?;
        run(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
            "-out",
            "cert.pem",
        ])?;
        let mut pem = std::fs::read_to_string(d.join("cert.pem")).ok()?;
        pem.push_str(&std::fs::read_to_string(d.join("key.pem")).ok()?);
        std::fs::write(d.join("falco.pem"), pem).ok()?;
        let s = |n: &str| d.join(n).to_string_lossy().into_owned();
        let out = (s("ca.pem"), s("key.pem"), s("falco.pem"));
        Some((dir, out.0, out.1, out.2))
    }

    pub(crate) fn http_cfg(url: &str) -> HttpOutput {
        HttpOutput {
            url: url.to_string(),
            user_agent: "falcosecurity/falco".into(),
            insecure: false,
            echo: false,
            ca_cert: String::new(),
            ca_bundle: String::new(),
            ca_path: "/nonexistent-ca-path".into(),
            mtls: false,
            client_cert: String::new(),
            client_key: String::new(),
            compress_uploads: false,
            keep_alive: false,
            max_consecutive_timeouts: 5,
        }
    }

    #[test]
    fn configurations() {
        let Some((_dir, cert, key, combined)) = self_signed() else {
            panic!("openssl is needed to make a test certificate");
        };
        assert!(server_config(&combined).is_ok());
        assert!(matches!(server_config(&cert), Err(TlsError::NoKey { .. })));
        let leaf = std::path::Path::new(&key).with_file_name("cert.pem");
        let leaf = leaf.to_string_lossy().into_owned();
        assert!(matches!(
            server_config("/nonexistent.pem"),
            Err(TlsError::Read { .. })
        ));

        let mut c = http_cfg("https://127.0.0.1/");
        assert!(matches!(client_config(&c), Err(TlsError::NoRoots)));
        c.insecure = true;
        assert!(client_config(&c).is_ok());
        c.insecure = false;
        c.ca_cert = cert.clone();
        assert!(client_config(&c).is_ok());
        c.ca_cert = String::new();
        c.ca_bundle = cert.clone();
        assert!(client_config(&c).is_ok());
        c.mtls = true;
        c.client_cert = leaf.clone();
        c.client_key = key.clone();
        assert!(client_config(&c).is_ok());
        c.client_key = "/nonexistent.key".into();
        assert!(matches!(client_config(&c), Err(TlsError::Read { .. })));
    }
}
