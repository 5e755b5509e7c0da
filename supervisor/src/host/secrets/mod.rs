//! Secrets: values that scripts use without holding them. This module owns loading them
//! (a secrets directory of 0600 files and systemd credentials), the grants of a script,
//! the substitution of references at egress towards the hosts a secret is bound to, the
//! host-side signatures, and the masking of every granted value before anything is stored.
//!
//! Values are read once, when the daemon starts, and live only in this process's memory
//! (wiped when dropped). They never go to a worker unless a secret is exposed
//! (`expose = true`) and the script asks for it, and never into a log line, an error or a
//! listing: [`SecretStore::list`] and the `Debug` output carry names, hosts and sizes only.
//!
//! It does not parse configuration, decide which script asks (the host service passes the
//! grant it built at start) or perform requests: the fetch module calls
//! [`GrantedSecrets::substitute`] on what it is about to send.

mod keys;
pub mod redact;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use aho_corasick::AhoCorasick;
use jobvisor_protocol::host::{HostErrorKind, SECRET_REF_PREFIX, SignAlgorithm};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::host::fetch::{HostRule, TargetHost};

pub use redact::{REDACTED, Redactor};

/// The largest value a secret may hold (after its one trailing newline is dropped).
pub const MAX_SECRET_BYTES: usize = 64 * 1024;

/// Values shorter than this are masked only where they stand as a whole word (see
/// [`redact`]), and load with a warning.
pub const SHORT_SECRET_CHARS: usize = 8;

/// The longest secret name.
const MAX_NAME_LEN: usize = 64;

/// One `[[secret]]` of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSpec {
    /// `[A-Za-z0-9_]{1,64}`: the name scripts and references use.
    pub name: String,
    /// Where a reference to the secret may be sent: `host`, `*.domain` or either with
    /// `:port`. Empty means nowhere: the secret can then only sign or be exposed.
    pub hosts: Vec<String>,
    /// Whether `ctx.secrets.get` may hand the value itself to the script.
    pub expose: bool,
    /// Where the value is read; `None` for the default: `<secrets_dir>/<name>` when that
    /// file exists, else the systemd credential `<name>`.
    pub source: Option<SecretSource>,
}

/// Where a secret's value is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file, which must not be readable or writable by group or others. A relative path
    /// is taken from the secrets directory.
    File(PathBuf),
    /// A systemd credential: the file of this id in `$CREDENTIALS_DIRECTORY`, which systemd
    /// makes readable by the service alone (`LoadCredential=`, `LoadCredentialEncrypted=`).
    Credential(String),
}

/// Why the secrets could not be loaded. Fatal to the daemon's start: a script that needs a
/// secret that is not there would only fail later, one job at a time.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret name `{name}` is not valid: use 1 to 64 letters, digits and `_`")]
    InvalidName { name: String },
    #[error("secret {name} is defined twice")]
    Duplicate { name: String },
    #[error("secret {name}: host `{host}` is not valid: {reason}")]
    InvalidHost {
        name: String,
        host: String,
        reason: String,
    },
    #[error(
        "secret {name}: credential `{id}` is not valid: a credential id is a file name \
         (no `/`, not `.` or `..`)"
    )]
    InvalidCredentialId { name: String, id: String },
    #[error(
        "secret {name}: credential `{id}` is asked for but $CREDENTIALS_DIRECTORY is not set \
         (run the daemon from a systemd unit with `LoadCredential={id}:PATH`, or use `file`)"
    )]
    NoCredentialsDirectory { name: String, id: String },
    #[error(
        "secret {name} has no value: {file} does not exist{}",
        match .credential {
            Some(path) => format!(" and neither does {}", path.display()),
            None => " and $CREDENTIALS_DIRECTORY is not set".to_owned(),
        },
        file = .file.display()
    )]
    NotFound {
        name: String,
        file: PathBuf,
        credential: Option<PathBuf>,
    },
    #[error("secret {name}: cannot read {}", .path.display())]
    Read {
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("secret {name}: {} is not a regular file", .path.display())]
    NotAFile { name: String, path: PathBuf },
    #[error(
        "secret {name}: {path} can be read or written by group or others (mode {mode:04o}); \
         run `chmod 600 {path}`",
        path = .path.display()
    )]
    FileMode {
        name: String,
        path: PathBuf,
        mode: u32,
    },
    #[error(
        "secrets directory {path} can be written by group or others (mode {mode:04o}); \
         run `chmod 700 {path}`",
        path = .path.display()
    )]
    DirMode { path: PathBuf, mode: u32 },
    #[error("cannot read the secrets directory {}", .path.display())]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("secret {name}: {} is empty", .path.display())]
    Empty { name: String, path: PathBuf },
    #[error("secret {name}: {} holds more than 64 KiB", .path.display())]
    TooLarge { name: String, path: PathBuf },
}

/// A secret as `jobvisor secrets list` shows it: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretInfo {
    pub name: String,
    pub hosts: Vec<String>,
    pub expose: bool,
    /// Where the value was read, e.g. `file /var/lib/jobvisor/secrets/TOKEN` or
    /// `credential TOKEN`.
    pub source: String,
    /// The value's length in bytes.
    pub bytes: usize,
}

/// Every secret of the configuration, read at start.
#[derive(Debug, Default)]
pub struct SecretStore {
    secrets: BTreeMap<String, Arc<Secret>>,
    /// Secrets declared whose value does not exist (yet), with why: the daemon starts
    /// without them, and a job that uses one is refused with that reason.
    missing: BTreeMap<String, MissingSecret>,
    warnings: Vec<String>,
}

/// A declared secret with no value to read.
#[derive(Debug, Clone)]
struct MissingSecret {
    hosts: Vec<String>,
    expose: bool,
    reason: String,
}

/// `err` with its causes (`cannot read FILE: No such file or directory`), for messages
/// that are shown where no error chain is printed.
pub fn describe(err: &SecretError) -> String {
    let mut text = err.to_string();
    let mut cause = std::error::Error::source(err);
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// Whether `err` says only that the value is not there (as opposed to a value that is
/// there but may not be used: its mode, its type, its size).
fn is_absent(err: &SecretError) -> bool {
    match err {
        SecretError::NotFound { .. } => true,
        SecretError::Read { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
        _ => false,
    }
}

/// One loaded secret.
struct Secret {
    name: String,
    /// As configured, for listings and refusals.
    host_settings: Vec<String>,
    hosts: Vec<HostRule>,
    expose: bool,
    source: String,
    value: Zeroizing<Vec<u8>>,
    /// Its private key, decoded on the first signature.
    keys: keys::KeyCache,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("name", &self.name)
            .field("hosts", &self.host_settings)
            .field("expose", &self.expose)
            .field("source", &self.source)
            .field("bytes", &self.value.len())
            .finish_non_exhaustive()
    }
}

impl SecretStore {
    /// Reads the value of every spec once. `secrets_dir` is where default and relative
    /// `file` sources live; `credentials_dir` is `$CREDENTIALS_DIRECTORY` when systemd set
    /// it. Short values load with a warning (see [`SecretStore::warnings`]).
    pub fn load(
        specs: &[SecretSpec],
        secrets_dir: &Path,
        credentials_dir: Option<&Path>,
    ) -> Result<SecretStore, SecretError> {
        let mut store = SecretStore::default();
        let mut dir_checked = false;
        for spec in specs {
            if !valid_name(&spec.name) {
                return Err(SecretError::InvalidName {
                    name: spec.name.clone(),
                });
            }
            if store.secrets.contains_key(&spec.name) {
                return Err(SecretError::Duplicate {
                    name: spec.name.clone(),
                });
            }
            let hosts = spec
                .hosts
                .iter()
                .map(|host| {
                    HostRule::parse(host).map_err(|reason| SecretError::InvalidHost {
                        name: spec.name.clone(),
                        host: host.clone(),
                        reason,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let located = locate(spec, secrets_dir, credentials_dir);
            let (path, checked_mode) = match located {
                Ok(found) => found,
                Err(err) if is_absent(&err) => {
                    store.note_missing(spec, &err);
                    continue;
                }
                Err(err) => return Err(err),
            };
            // The directory matters where the daemon looks for a secret by name alone:
            // whoever can write there can plant a value. A file named in the config is
            // checked by its own mode.
            if checked_mode && spec.source.is_none() && !dir_checked {
                check_secrets_dir(secrets_dir)?;
                dir_checked = true;
            }
            let value = match read_value(&spec.name, &path, checked_mode) {
                Ok(value) => value,
                Err(err) if is_absent(&err) => {
                    store.note_missing(spec, &err);
                    continue;
                }
                Err(err) => return Err(err),
            };
            if let Some(short) = short_warning(&spec.name, &value) {
                store.warnings.push(short);
            }
            let source = if checked_mode {
                format!("file {}", path.display())
            } else {
                format!("credential {}", path.display())
            };
            store.secrets.insert(
                spec.name.clone(),
                Arc::new(Secret {
                    name: spec.name.clone(),
                    host_settings: spec.hosts.clone(),
                    hosts,
                    expose: spec.expose,
                    source,
                    value,
                    keys: keys::KeyCache::default(),
                }),
            );
        }
        Ok(store)
    }

    fn note_missing(&mut self, spec: &SecretSpec, err: &SecretError) {
        let reason = describe(err);
        self.warnings.push(format!(
            "{reason}: jobs that use secret {} are refused until it is provided and the \
             daemon restarted",
            spec.name
        ));
        self.missing.insert(
            spec.name.clone(),
            MissingSecret {
                hosts: spec.hosts.clone(),
                expose: spec.expose,
                reason,
            },
        );
    }

    /// What loading found worth saying but not worth refusing (short values, secrets with
    /// no value yet), one sentence each, naming the secret.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The secrets whose value was not there, each with why (where it was looked for).
    pub fn missing(&self) -> impl Iterator<Item = (&str, &str)> {
        self.missing
            .iter()
            .map(|(name, missing)| (name.as_str(), missing.reason.as_str()))
    }

    /// Every secret, by name, without values.
    pub fn list(&self) -> Vec<SecretInfo> {
        let mut list: Vec<SecretInfo> = self
            .secrets
            .values()
            .map(|secret| SecretInfo {
                name: secret.name.clone(),
                hosts: secret.host_settings.clone(),
                expose: secret.expose,
                source: secret.source.clone(),
                bytes: secret.value.len(),
            })
            .chain(self.missing.iter().map(|(name, missing)| SecretInfo {
                name: name.clone(),
                hosts: missing.hosts.clone(),
                expose: missing.expose,
                // The CLI splits this form (`jobvisor secrets list`): keep it.
                source: format!("missing ({})", missing.reason),
                bytes: 0,
            }))
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// A redactor for every secret, for what no single script's grant covers (the daemon's
    /// own messages about secrets, for one).
    pub fn redactor(&self) -> Redactor {
        Redactor::new(self.secrets.values().map(|secret| secret.value.as_slice()))
    }

    /// The secrets `names` of script `script`, as its jobs may use them. An unknown name is
    /// an error naming it, for the configuration's validation.
    ///
    /// Builds the script's redactor, which takes a moment for long values (a fraction of a
    /// second for 64 KiB): grant once per script and configuration, and clone the grant per attempt.
    pub fn grant(&self, script: &str, names: &[String]) -> Result<GrantedSecrets, String> {
        let mut secrets = BTreeMap::new();
        let mut missing = BTreeMap::new();
        for name in names {
            if let Some(absent) = self.missing.get(name) {
                missing.insert(name.clone(), absent.reason.clone());
                continue;
            }
            let Some(secret) = self.secrets.get(name) else {
                return Err(format!(
                    "script `{script}` is granted secret {name}, which is not defined \
                     (add a [[secret]] named {name})"
                ));
            };
            secrets.insert(name.clone(), Arc::clone(secret));
        }
        let redactor = Redactor::new(secrets.values().map(|secret| secret.value.as_slice()));
        Ok(GrantedSecrets {
            inner: Arc::new(Granted {
                script: script.to_owned(),
                secrets,
                missing,
                redactor,
            }),
        })
    }
}

/// The secrets one script may use. Cheap to clone and shared between the tasks that
/// answer its jobs' host calls.
#[derive(Debug, Clone)]
pub struct GrantedSecrets {
    inner: Arc<Granted>,
}

#[derive(Debug)]
struct Granted {
    script: String,
    secrets: BTreeMap<String, Arc<Secret>>,
    /// Granted secrets that have no value, with why.
    missing: BTreeMap<String, String>,
    redactor: Redactor,
}

impl GrantedSecrets {
    /// No secrets, for a script granted none.
    pub fn none(script: &str) -> GrantedSecrets {
        GrantedSecrets {
            inner: Arc::new(Granted {
                script: script.to_owned(),
                secrets: BTreeMap::new(),
                missing: BTreeMap::new(),
                redactor: Redactor::default(),
            }),
        }
    }

    /// Whether no secret is granted (then masking and substitution cost nothing).
    pub fn is_empty(&self) -> bool {
        self.inner.secrets.is_empty()
    }

    /// The names granted, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.inner.secrets.keys().map(String::as_str)
    }

    /// `input` (a URL, a header value or a body about to be sent to `host:port`) with
    /// every secret reference replaced by its value, or `None` when it holds no reference.
    /// A reference in its form-encoded shape (`JOBVISOR-SECRET%7ENAME%7E`, as
    /// `URLSearchParams` writes it) is replaced by the form-encoded value. A reference to a
    /// secret that is not granted, or not bound to `host:port`, refuses the whole input.
    pub fn substitute(
        &self,
        input: &[u8],
        host: &str,
        port: u16,
    ) -> Result<Option<Vec<u8>>, String> {
        let mut output: Option<Vec<u8>> = None;
        let mut copied = 0;
        let mut from = 0;
        while let Some(found) = REFERENCE_START.find(&input[from..]) {
            let start = from + found.start();
            let name_start = from + found.end();
            let form_encoded = found.pattern().as_usize() > 0;
            let terminator: &[u8] = if form_encoded { b"%7E" } else { b"~" };
            let name_len = input[name_start..]
                .iter()
                .take(MAX_NAME_LEN + 1)
                .take_while(|byte| is_name_byte(**byte))
                .count();
            let name_end = name_start + name_len;
            let closed = input
                .get(name_end..name_end + terminator.len())
                .is_some_and(|end| end.eq_ignore_ascii_case(terminator));
            if name_len == 0 || name_len > MAX_NAME_LEN || !closed {
                // Not a reference (only the prefix of something else): sent as it is.
                from = name_start;
                continue;
            }
            let name = String::from_utf8_lossy(&input[name_start..name_end]);
            let secret = self.bound(&name, host, port)?;
            let out = output.get_or_insert_with(|| Vec::with_capacity(input.len()));
            out.extend_from_slice(&input[copied..start]);
            if form_encoded {
                out.extend_from_slice(redact::form_encode(&secret.value).as_bytes());
            } else {
                out.extend_from_slice(&secret.value);
            }
            copied = name_end + terminator.len();
            from = copied;
        }
        if let Some(out) = output.as_mut() {
            out.extend_from_slice(&input[copied..]);
        }
        Ok(output)
    }

    /// The granted secret `name`, if a reference to it may go to `host:port`.
    fn bound(&self, name: &str, host: &str, port: u16) -> Result<&Secret, String> {
        let secret = self.granted(name)?;
        if secret.hosts.is_empty() {
            return Err(format!(
                "secret {name} is bound to no host, so a reference to it is sent nowhere \
                 (list the hosts it is for in `hosts` of its [[secret]])"
            ));
        }
        if !host_allowed(&secret.hosts, host, port) {
            return Err(format!(
                "secret {name} is not bound to {} (its hosts: {})",
                host_port(host, port),
                secret.host_settings.join(", ")
            ));
        }
        Ok(secret)
    }

    fn granted(&self, name: &str) -> Result<&Secret, String> {
        if let Some(reason) = self.inner.missing.get(name) {
            return Err(format!("secret {name} is not available: {reason}"));
        }
        self.inner.secrets.get(name).map(|s| s.as_ref()).ok_or_else(|| {
            format!(
                "secret {name} is not granted to script `{}` (add it to `secrets` of the script)",
                self.inner.script
            )
        })
    }

    /// The value itself, for `ctx.secrets.get`: only of a granted secret with
    /// `expose = true`, and only if it is UTF-8 text.
    pub fn value(&self, name: &str) -> Result<String, (HostErrorKind, String)> {
        let secret = self
            .granted(name)
            .map_err(|message| (HostErrorKind::Denied, message))?;
        if !secret.expose {
            return Err((
                HostErrorKind::Denied,
                format!(
                    "secret {name} is not exposed to scripts (set `expose = true` on its \
                     [[secret]] to let ctx.secrets.get read it; references and signing work \
                     without it)"
                ),
            ));
        }
        String::from_utf8(secret.value.to_vec()).map_err(|_| {
            (
                HostErrorKind::Invalid,
                format!("secret {name} is not UTF-8 text, so it cannot be handed to a script"),
            )
        })
    }

    /// The signature of `data` with the key the granted secret `name` holds: HS256 uses
    /// the value's bytes as the HMAC key; RS256 and ES256 a PEM private key or a
    /// service-account JSON file. No `expose` needed: the key stays here.
    pub fn sign(
        &self,
        name: &str,
        algorithm: SignAlgorithm,
        data: &[u8],
    ) -> Result<Vec<u8>, String> {
        let secret = self.granted(name)?;
        secret.keys.sign(name, &secret.value, algorithm, data)
    }

    /// `text` with every granted value, and its encoded forms, replaced by `[redacted]`.
    pub fn mask(&self, text: &str) -> String {
        self.inner.redactor.mask(text).into_owned()
    }

    /// The redactor of the granted values, for masking without copying what has none.
    pub fn redactor(&self) -> &Redactor {
        &self.inner.redactor
    }
}

/// The starts of a reference: as written, and form-encoded (`~` as `%7E` or `%7e`).
static REFERENCE_START: LazyLock<AhoCorasick> = LazyLock::new(|| {
    let form = SECRET_REF_PREFIX.replace('~', "%7E");
    let form_lower = SECRET_REF_PREFIX.replace('~', "%7e");
    AhoCorasick::new([SECRET_REF_PREFIX, form.as_str(), form_lower.as_str()])
        .expect("the reference patterns build")
});

fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len()) && name.bytes().all(is_name_byte)
}

/// The file a spec's value is read from, and whether its mode must be checked (not for a
/// credential: systemd owns those files and their modes).
fn locate(
    spec: &SecretSpec,
    secrets_dir: &Path,
    credentials_dir: Option<&Path>,
) -> Result<(PathBuf, bool), SecretError> {
    let credential = |id: &str| -> Result<PathBuf, SecretError> {
        if id.is_empty() || id.contains('/') || id == "." || id == ".." {
            return Err(SecretError::InvalidCredentialId {
                name: spec.name.clone(),
                id: id.to_owned(),
            });
        }
        credentials_dir
            .map(|dir| dir.join(id))
            .ok_or_else(|| SecretError::NoCredentialsDirectory {
                name: spec.name.clone(),
                id: id.to_owned(),
            })
    };
    match &spec.source {
        Some(SecretSource::File(path)) => Ok((secrets_dir.join(path), true)),
        Some(SecretSource::Credential(id)) => Ok((credential(id)?, false)),
        None => {
            let file = secrets_dir.join(&spec.name);
            // Only a file that is surely absent sends the search on: any other error (an
            // unreadable directory) is reported by the read, naming the file.
            if !matches!(file.symlink_metadata(), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
            {
                return Ok((file, true));
            }
            match credentials_dir.map(|dir| dir.join(&spec.name)) {
                Some(path) if path.exists() => Ok((path, false)),
                credential => Err(SecretError::NotFound {
                    name: spec.name.clone(),
                    file,
                    credential,
                }),
            }
        }
    }
}

/// Refuses a secrets directory that group or others may write (they could swap a file).
fn check_secrets_dir(dir: &Path) -> Result<(), SecretError> {
    let metadata = dir.metadata().map_err(|source| SecretError::Dir {
        path: dir.to_owned(),
        source,
    })?;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(SecretError::DirMode {
            path: dir.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// The value in `path`, without one trailing newline (`echo` writes one).
fn read_value(
    name: &str,
    path: &Path,
    check_mode: bool,
) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    let read_error = |source| SecretError::Read {
        name: name.to_owned(),
        path: path.to_owned(),
        source,
    };
    // Checked before opening: opening a FIFO would wait for a writer.
    let metadata = std::fs::metadata(path).map_err(read_error)?;
    if !metadata.is_file() {
        return Err(SecretError::NotAFile {
            name: name.to_owned(),
            path: path.to_owned(),
        });
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if check_mode && mode & 0o077 != 0 {
        return Err(SecretError::FileMode {
            name: name.to_owned(),
            path: path.to_owned(),
            mode,
        });
    }
    let file = std::fs::File::open(path).map_err(read_error)?;
    // Room for the value, a "\r\n" and one byte that tells it is too long.
    // Sized up front so that no copy of the value is left behind by a reallocation.
    let capacity = metadata.len().min(MAX_SECRET_BYTES as u64 + 3) as usize;
    let mut value = Zeroizing::new(Vec::with_capacity(capacity));
    file.take(MAX_SECRET_BYTES as u64 + 3)
        .read_to_end(&mut value)
        .map_err(read_error)?;
    if value.ends_with(b"\n") {
        value.pop();
        if value.ends_with(b"\r") {
            value.pop();
        }
    }
    if value.is_empty() {
        return Err(SecretError::Empty {
            name: name.to_owned(),
            path: path.to_owned(),
        });
    }
    if value.len() > MAX_SECRET_BYTES {
        return Err(SecretError::TooLarge {
            name: name.to_owned(),
            path: path.to_owned(),
        });
    }
    Ok(value)
}

fn short_warning(name: &str, value: &[u8]) -> Option<String> {
    let chars = String::from_utf8_lossy(value).chars().count();
    (chars < SHORT_SECRET_CHARS).then(|| {
        format!(
            "secret {name} is shorter than {SHORT_SECRET_CHARS} characters: it is masked only \
             where it stands as a whole word, so it can show inside longer words"
        )
    })
}

/// Whether a reference may go to `host:port` under `hosts`: an entry without a port
/// matches any port. A host that does not parse matches nothing.
fn host_allowed(hosts: &[HostRule], host: &str, port: u16) -> bool {
    TargetHost::parse(host)
        .is_ok_and(|host| hosts.iter().any(|rule| rule.matches(&host, port, None)))
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests;
