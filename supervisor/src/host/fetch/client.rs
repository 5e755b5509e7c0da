//! The daemon's HTTP client for scripts' fetches, and the runtime it runs on.
//!
//! One [`FetchClient`] per daemon. Its HTTP work (DNS, TLS, bodies) runs on a tokio
//! runtime of its own (two threads named `jobvisor-http`), never on the caller's: the
//! caller only awaits a task handle. The client follows no redirects, reads no proxy from
//! the environment and resolves names through [`CheckedResolver`], which resolves once,
//! drops refused addresses and hands the connector only the checked ones, so a name
//! cannot be re-resolved to another address between the check and the connection.
//!
//! A name that `allow_private` lists with a port gets a client of its own whose resolver
//! lets private addresses through for that name; the session sends only that exact
//! `host:port` through it, so its pooled connections never serve another target.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::policy::{AddressClass, TargetHost, classify_address};

/// The certificate authorities fetch trusts (besides an extra CA file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TrustRoots {
    /// Mozilla's roots, compiled in: the same on every host, as Deno and node do.
    #[default]
    Bundled,
    /// The host's store (`/etc/ssl/certs` and the like, or `SSL_CERT_FILE` /
    /// `SSL_CERT_DIR`), read once when the daemon starts.
    System,
}

/// How the daemon's fetch client is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchSettings {
    pub roots: TrustRoots,
    /// A PEM file of CA certificates trusted besides the roots, for private endpoints.
    pub extra_ca_file: Option<PathBuf>,
    /// The longest a TCP connect (with its TLS handshake) may take.
    pub connect_timeout: Duration,
    /// The `user-agent` sent when the script sets none.
    pub user_agent: String,
}

impl Default for FetchSettings {
    fn default() -> FetchSettings {
        FetchSettings {
            roots: TrustRoots::Bundled,
            extra_ca_file: None,
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("jobvisor/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Why the fetch client could not be built; fatal to the daemon's start.
#[derive(Debug, thiserror::Error)]
pub enum FetchSetupError {
    #[error("cannot read the extra CA file {path}: {source}")]
    CaFile {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("the extra CA file {path} holds no PEM certificate")]
    CaFileEmpty { path: PathBuf },
    #[error("the extra CA file {path} has a certificate that is not a valid CA: {source}")]
    CaCertificate {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("no usable CA certificate in the system's store{}", system_errors(.errors))]
    NoSystemRoots { errors: Vec<String> },
    #[error("cannot set up TLS for fetch: {0}")]
    Tls(#[source] rustls::Error),
    #[error("cannot start the fetch runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

fn system_errors(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!(" ({})", errors.join("; "))
    }
}

/// The daemon's HTTP client. Cheap to clone.
#[derive(Clone)]
pub struct FetchClient {
    inner: Arc<Inner>,
}

struct Inner {
    /// Taken on drop, to shut the runtime down without blocking.
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    handle: tokio::runtime::Handle,
    tls: rustls::ClientConfig,
    settings: FetchSettings,
    /// For every target that is not an `allow_private` entry.
    public: reqwest::Client,
    /// One per `allow_private` entry used so far.
    private: Mutex<HashMap<(TargetHost, u16), reqwest::Client>>,
}

impl fmt::Debug for FetchClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchClient")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let runtime = self
            .runtime
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .take();
        if let Some(runtime) = runtime {
            // Dropping a runtime blocks, which is forbidden inside another runtime.
            runtime.shutdown_background();
        }
    }
}

impl FetchClient {
    /// Starts the fetch runtime and builds the client.
    pub fn new(settings: FetchSettings) -> Result<FetchClient, FetchSetupError> {
        let tls = tls_config(settings.roots, settings.extra_ca_file.as_ref())?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("jobvisor-http")
            // Name lookups block a thread each; past these they wait their turn.
            .max_blocking_threads(32)
            .enable_all()
            .build()
            .map_err(FetchSetupError::Runtime)?;
        let handle = runtime.handle().clone();
        let public = build_client(&tls, &settings, CheckedResolver { private_name: None })?;
        Ok(FetchClient {
            inner: Arc::new(Inner {
                runtime: Mutex::new(Some(runtime)),
                handle,
                tls,
                settings,
                public,
                private: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn settings(&self) -> &FetchSettings {
        &self.inner.settings
    }

    /// Runs `future` on the fetch runtime. Dropping the handle does not stop it: wrap it
    /// in [`AbortOnDrop`].
    pub(super) fn spawn<F>(&self, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.handle.spawn(future)
    }

    /// The client for `host:port`: its own one when `allow_private` lists it (`private`),
    /// else the shared one that refuses private addresses.
    pub(super) fn client_for(
        &self,
        host: &TargetHost,
        port: u16,
        private: bool,
    ) -> Result<reqwest::Client, String> {
        if !private {
            return Ok(self.inner.public.clone());
        }
        let mut clients = self
            .inner
            .private
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let key = (host.clone(), port);
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let resolver = CheckedResolver {
            private_name: match host {
                TargetHost::Name(name) => Some(name.clone()),
                TargetHost::Ip(_) => None,
            },
        };
        let client = build_client(&self.inner.tls, &self.inner.settings, resolver)
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        clients.insert(key, client.clone());
        Ok(client)
    }
}

fn tls_config(
    trust: TrustRoots,
    extra_ca_file: Option<&PathBuf>,
) -> Result<rustls::ClientConfig, FetchSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    match trust {
        TrustRoots::Bundled => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        TrustRoots::System => {
            let found = rustls_native_certs::load_native_certs();
            // A store with a few unparsable entries is still usable.
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(FetchSetupError::NoSystemRoots {
                    errors: found.errors.iter().map(ToString::to_string).collect(),
                });
            }
        }
    }
    if let Some(path) = extra_ca_file {
        let certificates = CertificateDer::pem_file_iter(path)
            .map_err(|source| FetchSetupError::CaFile {
                path: path.clone(),
                source,
            })?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| FetchSetupError::CaFile {
                path: path.clone(),
                source,
            })?;
        if certificates.is_empty() {
            return Err(FetchSetupError::CaFileEmpty { path: path.clone() });
        }
        for certificate in certificates {
            roots
                .add(certificate)
                .map_err(|source| FetchSetupError::CaCertificate {
                    path: path.clone(),
                    source,
                })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(FetchSetupError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn build_client(
    tls: &rustls::ClientConfig,
    settings: &FetchSettings,
    resolver: CheckedResolver,
) -> Result<reqwest::Client, FetchSetupError> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls.clone())
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(settings.connect_timeout)
        .user_agent(settings.user_agent.clone())
        .dns_resolver(Arc::new(resolver))
        .build()
        .map_err(FetchSetupError::Client)
}

/// A name resolved only to refused addresses. Found in the request error's sources by
/// the session, which words the refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AddressRefused {
    pub address: std::net::IpAddr,
    pub class: AddressClass,
}

impl fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the name resolves only to refused addresses ({} is {})",
            self.address, self.class
        )
    }
}

impl std::error::Error for AddressRefused {}

/// Resolves a name once and keeps only the addresses a fetch may reach.
struct CheckedResolver {
    /// The name (from an `allow_private` entry) whose private addresses are kept.
    private_name: Option<String>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        let keep_private = self.private_name.as_deref() == Some(host.as_str());
        let lookup_name = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((lookup_name.as_str(), 0))
                .await?
                .collect();
            let mut refused = None;
            let mut kept = Vec::with_capacity(found.len());
            for address in found {
                match classify_address(address.ip()) {
                    Some(class) if !keep_private => {
                        refused.get_or_insert(AddressRefused {
                            address: address.ip(),
                            class,
                        });
                    }
                    _ => kept.push(address),
                }
            }
            if kept.is_empty() {
                return Err(match refused {
                    Some(refused) => Box::new(refused) as Box<dyn std::error::Error + Send + Sync>,
                    None => format!("{host} has no address").into(),
                });
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}
