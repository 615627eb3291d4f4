//! `--web.config.file` in the exporter-toolkit format: TLS and basic auth for every path.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt   # relative paths are relative to this file
//!   key_file: server.key
//! basic_auth_users:
//!   prometheus: $2y$10$...  # bcrypt hash
//! ```
//!
//! The file and the certificate files are checked for changes (modification time and size) on
//! every new connection and re-read when they changed, so certificates can rotate without a
//! restart. A re-read that fails keeps the last good configuration and logs why.
//! bcrypt is deliberately slow, so successful verifications are cached under a SHA-256 of the
//! presented credentials and the stored hash; scrapes stay cheap and a password change in the
//! file invalidates the cache entry by itself.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio_rustls::rustls::ServerConfig;

/// Problems with the web configuration (a bad file at start is a startup error).
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: PathBuf,
    key_file: PathBuf,
}

/// One loaded web configuration.
#[derive(Debug, Default)]
pub struct WebSettings {
    /// TLS acceptor configuration; `None` serves plain HTTP.
    pub tls: Option<Arc<ServerConfig>>,
    /// user -> bcrypt hash; empty disables basic auth.
    pub users: BTreeMap<String, String>,
}

/// Files whose change triggers a re-read: (path, mtime, size).
type Stamps = Vec<(PathBuf, Option<SystemTime>, u64)>;

fn stamp(paths: &[PathBuf]) -> Stamps {
    paths
        .iter()
        .map(|p| {
            let md = fs::metadata(p).ok();
            (
                p.clone(),
                md.as_ref().and_then(|m| m.modified().ok()),
                md.map_or(0, |m| m.len()),
            )
        })
        .collect()
}

fn load(path: &Path) -> Result<(WebSettings, Vec<PathBuf>), WebConfigError> {
    let text = fs::read_to_string(path).map_err(|source| WebConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let invalid = |message: String| WebConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let raw: RawWebConfig = if text.trim().is_empty() {
        RawWebConfig::default()
    } else {
        serde_norway::from_str(&text).map_err(|e| invalid(e.to_string()))?
    };
    for (user, hash) in &raw.basic_auth_users {
        if hash.parse::<bcrypt::HashParts>().is_err() {
            return Err(invalid(format!(
                "basic_auth_users.{user}: not a bcrypt hash"
            )));
        }
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut watched = vec![path.to_path_buf()];
    let tls = match raw.tls_server_config {
        None => None,
        Some(t) => {
            let cert = base.join(&t.cert_file);
            let key = base.join(&t.key_file);
            watched.push(cert.clone());
            watched.push(key.clone());
            Some(Arc::new(
                tls_config(&cert, &key).map_err(|m| invalid(format!("tls_server_config: {m}")))?,
            ))
        }
    };
    Ok((
        WebSettings {
            tls,
            users: raw.basic_auth_users,
        },
        watched,
    ))
}

fn tls_config(cert: &Path, key: &Path) -> Result<ServerConfig, String> {
    // Read the files here so that a missing file says "cannot read", as the other file errors do.
    let read = |p: &Path| fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(cert)?)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate found", cert.display()));
    }
    let key: PrivateKeyDer<'static> =
        PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|e| match e {
            pem::Error::NoItemsFound => format!("{}: no PEM private key found", key.display()),
            e => format!("{}: {e}", key.display()),
        })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key: {e}"))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

#[derive(Debug)]
struct Inner {
    current: Arc<WebSettings>,
    stamps: Stamps,
}

/// The web configuration, re-read when its files change.
#[derive(Debug)]
pub struct WebConfig {
    path: Option<PathBuf>,
    inner: Mutex<Inner>,
    /// SHA-256 of (user, password, stored hash) for credentials that verified.
    verified: Mutex<HashSet<[u8; 32]>>,
}

/// Cap on remembered credentials; the cache is cleared when it fills (it holds only successes,
/// so only a legitimate user set can fill it).
const VERIFIED_CACHE_MAX: usize = 1024;

impl WebConfig {
    /// No web config file: plain HTTP, no auth.
    pub fn none() -> Self {
        WebConfig {
            path: None,
            inner: Mutex::new(Inner {
                current: Arc::new(WebSettings::default()),
                stamps: Vec::new(),
            }),
            verified: Mutex::new(HashSet::new()),
        }
    }

    /// Load at start: an invalid file is an error here (the operator is watching).
    pub fn load(path: &Path) -> Result<Self, WebConfigError> {
        let (settings, watched) = load(path)?;
        Ok(WebConfig {
            path: Some(path.to_path_buf()),
            inner: Mutex::new(Inner {
                current: Arc::new(settings),
                stamps: stamp(&watched),
            }),
            verified: Mutex::new(HashSet::new()),
        })
    }

    /// The settings for a new connection, re-read first if any watched file changed.
    pub fn current(&self) -> Arc<WebSettings> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(path) = &self.path {
            let watched: Vec<PathBuf> = inner.stamps.iter().map(|s| s.0.clone()).collect();
            if stamp(&watched) != inner.stamps {
                match load(path) {
                    Ok((settings, watched)) => {
                        tracing::info!(file = %path.display(), "web configuration reloaded");
                        inner.current = Arc::new(settings);
                        inner.stamps = stamp(&watched);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "web configuration changed but cannot be loaded; keeping the previous one");
                        // Remember the broken state so that we do not retry on every connection.
                        inner.stamps = stamp(&watched);
                    }
                }
            }
        }
        inner.current.clone()
    }

    /// Check an `Authorization` header against the users of `settings`.
    /// `Ok(true)` when auth is disabled. bcrypt runs on a blocking thread.
    pub async fn authorize(&self, settings: &WebSettings, header: Option<&str>) -> bool {
        if settings.users.is_empty() {
            return true;
        }
        let Some((user, password)) = header.and_then(parse_basic) else {
            return false;
        };
        let Some(hash) = settings.users.get(&user).cloned() else {
            // Spend the same bcrypt work for an unknown user as for a wrong password, so the
            // response time does not tell which user names exist.
            if let Some(decoy) = settings.users.values().next().cloned() {
                let _ = tokio::task::spawn_blocking(move || bcrypt::verify(password, &decoy)).await;
            }
            return false;
        };
        let mut h = Sha256::new();
        for part in [user.as_bytes(), password.as_bytes(), hash.as_bytes()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        let key: [u8; 32] = h.finalize().into();
        if self
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&key)
        {
            return true;
        }
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        if ok {
            let mut cache = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= VERIFIED_CACHE_MAX {
                cache.clear();
            }
            cache.insert(key);
        }
        ok
    }
}

/// `Basic base64(user:password)` -> (user, password).
fn parse_basic(header: &str) -> Option<(String, String)> {
    use base64::Engine;
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, pass: &str) -> String {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    }

    #[test]
    fn parse_basic_header() {
        assert_eq!(
            parse_basic(&basic("prom", "s3:cret")),
            Some(("prom".into(), "s3:cret".into()))
        );
        assert_eq!(parse_basic("Bearer x"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
    }

    #[tokio::test]
    async fn basic_auth_verifies_and_caches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        let hash = bcrypt::hash("secret", 4).unwrap();
        fs::write(&path, format!("basic_auth_users:\n  prom: '{hash}'\n")).unwrap();
        let wc = WebConfig::load(&path).unwrap();
        let s = wc.current();
        assert!(s.tls.is_none());
        assert!(!wc.authorize(&s, None).await);
        assert!(!wc.authorize(&s, Some(&basic("prom", "wrong"))).await);
        assert!(!wc.authorize(&s, Some(&basic("other", "secret"))).await);
        assert!(wc.authorize(&s, Some(&basic("prom", "secret"))).await);
        assert_eq!(wc.verified.lock().unwrap().len(), 1);
        assert!(wc.authorize(&s, Some(&basic("prom", "secret"))).await);
    }

    #[test]
    fn invalid_files_are_errors_with_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        fs::write(&path, "basic_auth_users:\n  prom: plain\n").unwrap();
        let err = WebConfig::load(&path).unwrap_err().to_string();
        assert!(err.contains("basic_auth_users.prom"), "{err}");
        fs::write(
            &path,
            "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n",
        )
        .unwrap();
        let err = WebConfig::load(&path).unwrap_err().to_string();
        assert!(err.contains("tls_server_config"), "{err}");
        fs::write(&path, "tls_config: {}\n").unwrap();
        assert!(WebConfig::load(&path).is_err());
    }

    #[test]
    fn pem_files_load_and_their_problems_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let signed = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let (cert, key) = (dir.path().join("a.crt"), dir.path().join("a.key"));
        let key_pem = signed.signing_key.serialize_pem();
        fs::write(&cert, signed.cert.pem()).unwrap();
        // Text around the PEM sections (as in files written by openssl) is ignored.
        fs::write(&key, format!("comment line\n{key_pem}")).unwrap();
        let cfg = tls_config(&cert, &key).unwrap();
        assert_eq!(
            cfg.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );

        // A certificate and its key in one file: each reader takes only its own section.
        let both = dir.path().join("both.pem");
        fs::write(&both, format!("{}{key_pem}", signed.cert.pem())).unwrap();
        assert!(tls_config(&both, &both).is_ok());

        let err = tls_config(&key, &key).unwrap_err();
        assert!(err.contains("a.key: no PEM certificate found"), "{err}");
        let err = tls_config(&cert, &cert).unwrap_err();
        assert!(err.contains("a.crt: no PEM private key found"), "{err}");
        let err = tls_config(&dir.path().join("missing.crt"), &key).unwrap_err();
        assert!(err.starts_with("cannot read "), "{err}");
        fs::write(&cert, "-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap();
        let err = tls_config(&cert, &key).unwrap_err();
        assert!(err.starts_with(&format!("{}: ", cert.display())), "{err}");
    }

    #[test]
    fn reload_on_change_keeps_last_good_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        fs::write(&path, "").unwrap();
        let wc = WebConfig::load(&path).unwrap();
        assert!(wc.current().users.is_empty());
        let hash = bcrypt::hash("x", 4).unwrap();
        fs::write(
            &path,
            format!("basic_auth_users:\n  a: '{hash}'\n  bb: '{hash}'\n"),
        )
        .unwrap();
        assert_eq!(wc.current().users.len(), 2);
        fs::write(&path, "garbage: [").unwrap();
        assert_eq!(
            wc.current().users.len(),
            2,
            "broken file keeps the last good one"
        );
    }
}
