//! A script's network policy: which hosts it may fetch from (`allow_net`), which exact
//! `host:port` may reach a private address (`allow_private`), and the address ranges that
//! are refused for everyone else (loopback, private, link-local, metadata, …).
//!
//! Everything here is synchronous and pure, so the same checks serve the URL of each hop
//! (an IP-literal host never reaches a resolver) and the addresses the resolver returns.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use reqwest::Url;

/// Host names that are cloud metadata services whatever they resolve to.
const METADATA_HOSTS: &[&str] = &["metadata.google.internal", "metadata"];

/// The ports an `allow_net` entry without a port allows.
pub const DEFAULT_PORTS: [u16; 2] = [443, 80];

/// What one `allow_net` entry matches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// Exactly this name (lower case, ASCII, no trailing dot).
    Name(String),
    /// Any name ending in `.` + this suffix, not the suffix itself.
    Subdomains(String),
    /// This address.
    Ip(IpAddr),
}

/// One `host`, `host:port`, `*.domain` or IP-literal entry, parsed as a URL's host is
/// (IDNA, lower case, IPv4 forms), so that an entry and a URL agree on what they name.
/// `allow_net` entries and a secret's `hosts` are both these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRule {
    host: HostPattern,
    /// `None`: the ports the user of the rule gives (see [`HostRule::matches`]).
    port: Option<u16>,
}

impl HostRule {
    /// Parses one entry; the error says why it is not one.
    pub fn parse(entry: &str) -> Result<HostRule, String> {
        parse_rule(entry)
    }

    /// Whether `host:port` matches. An entry without a port matches the ports in
    /// `unported`, or any port when that is `None`.
    pub fn matches(&self, host: &TargetHost, port: u16, unported: Option<&[u16]>) -> bool {
        let port_ok = match (self.port, unported) {
            (Some(p), _) => p == port,
            (None, Some(ports)) => ports.contains(&port),
            (None, None) => true,
        };
        port_ok
            && match (&self.host, host) {
                (HostPattern::Name(want), TargetHost::Name(name)) => want == name,
                (HostPattern::Subdomains(suffix), TargetHost::Name(name)) => name
                    .strip_suffix(suffix.as_str())
                    .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
                (HostPattern::Ip(want), TargetHost::Ip(ip)) => want == ip,
                _ => false,
            }
    }
}

impl TargetHost {
    /// A host as a request names it (`api.example.com`, `127.0.0.1`, `::1`, `[::1]`),
    /// normalised as a URL's host is.
    pub fn parse(host: &str) -> Result<TargetHost, String> {
        parse_host(host)
    }
}

/// A host as a URL names it, normalised for matching.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TargetHost {
    Name(String),
    Ip(IpAddr),
}

impl fmt::Display for TargetHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetHost::Name(name) => f.write_str(name),
            TargetHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            TargetHost::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
        }
    }
}

/// The network policy of one script. Default (empty): every fetch is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetPolicy {
    allow: Vec<HostRule>,
    private: HashSet<(TargetHost, u16)>,
    /// For messages: "add … to allow_net of script `NAME`".
    script: Option<String>,
}

/// Why a target is refused before any connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetRefusal {
    /// Not matched by `allow_net`.
    NotAllowed,
    /// An IP literal in a refused range.
    Address(IpAddr, AddressClass),
    /// A cloud metadata service's name.
    MetadataName,
}

impl NetPolicy {
    /// Parses the `allow_net` and `allow_private` entries of a script.
    ///
    /// `allow_net`: `host` (ports 443 and 80), `host:port`, `*.domain` (any subdomain,
    /// not `domain` itself), `*.domain:port`, IPv4 and IPv6 literals (`[::1]:8080`).
    /// `allow_private`: exact `host:port` entries; such an entry also allows that host
    /// and port in `allow_net`. The error names the bad entry and why.
    pub fn parse<S: AsRef<str>>(allow_net: &[S], allow_private: &[S]) -> Result<NetPolicy, String> {
        let mut policy = NetPolicy::default();
        for entry in allow_net {
            let entry = entry.as_ref();
            let parsed =
                parse_rule(entry).map_err(|why| format!("allow_net entry {entry:?}: {why}"))?;
            policy.allow.push(parsed);
        }
        for entry in allow_private {
            let entry = entry.as_ref();
            let (host, port) = parse_private_entry(entry)
                .map_err(|why| format!("allow_private entry {entry:?}: {why}"))?;
            policy.private.insert((host, port));
        }
        Ok(policy)
    }

    /// The same policy, naming `script` in its refusals.
    pub fn named(mut self, script: impl Into<String>) -> NetPolicy {
        self.script = Some(script.into());
        self
    }

    /// Whether `host:port` is listed in `allow_private`.
    pub fn private_allowed(&self, host: &TargetHost, port: u16) -> bool {
        self.private.contains(&(host.clone(), port))
    }

    /// Checks a target before anything is resolved: `allow_net`, then IP literals and
    /// metadata names against the refused ranges (unless in `allow_private`).
    pub fn check_target(&self, host: &TargetHost, port: u16) -> Result<(), TargetRefusal> {
        let private = self.private_allowed(host, port);
        if !private
            && !self
                .allow
                .iter()
                .any(|entry| entry.matches(host, port, Some(&DEFAULT_PORTS)))
        {
            return Err(TargetRefusal::NotAllowed);
        }
        if private {
            return Ok(());
        }
        match host {
            TargetHost::Ip(ip) => match classify_address(*ip) {
                Some(class) => Err(TargetRefusal::Address(*ip, class)),
                None => Ok(()),
            },
            TargetHost::Name(name) => {
                if METADATA_HOSTS.contains(&name.as_str()) {
                    Err(TargetRefusal::MetadataName)
                } else {
                    Ok(())
                }
            }
        }
    }

    /// The message of a refusal of `host:port`, naming the setting that would allow it.
    pub fn refusal_message(&self, host: &TargetHost, port: u16, refusal: &TargetRefusal) -> String {
        let script = match &self.script {
            Some(name) => format!(" of script `{name}`"),
            None => String::new(),
        };
        let target = format!("{host}:{port}");
        match refusal {
            // An address allow_net could list but the SSRF check would refuse anyway:
            // name the one setting that lets it through.
            TargetRefusal::NotAllowed if matches!(host, TargetHost::Ip(ip) if classify_address(*ip).is_some()) =>
            {
                format!(
                    "fetch to {target} refused: the host is not in the script's allow_net, and \
                     it is a private address (add {target:?} to allow_private{script} to allow it)"
                )
            }
            TargetRefusal::NotAllowed => {
                let entry = if DEFAULT_PORTS.contains(&port) {
                    host.to_string()
                } else {
                    target.clone()
                };
                format!(
                    "fetch to {target} refused: the host is not in the script's allow_net \
                     (add {entry:?} to allow_net{script})"
                )
            }
            TargetRefusal::Address(ip, class) => {
                let resolved = match host {
                    TargetHost::Ip(_) => format!("{host} is"),
                    TargetHost::Name(name) => format!("{name} resolves to {ip},"),
                };
                format!(
                    "fetch to {target} refused: {resolved} a {class} address \
                     (add {target:?} to allow_private{script} to allow it)"
                )
            }
            TargetRefusal::MetadataName => format!(
                "fetch to {target} refused: the host is a cloud metadata service \
                 (add {target:?} to allow_private{script} to allow it)"
            ),
        }
    }
}

/// The host of a parsed URL, normalised for matching (lower case, no trailing dot, an
/// IPv4-mapped IPv6 address as it is: [`classify_address`] looks inside it).
pub fn target_host(url: &Url) -> Option<TargetHost> {
    match url.host()? {
        url::Host::Domain(name) => Some(TargetHost::Name(normalise_name(name))),
        url::Host::Ipv4(ip) => Some(TargetHost::Ip(IpAddr::V4(ip))),
        url::Host::Ipv6(ip) => Some(TargetHost::Ip(IpAddr::V6(ip))),
    }
}

fn normalise_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Splits `host[:port]` (`[v6]:port`, a bare IPv6 literal has no port).
fn split_host_port(entry: &str) -> Result<(&str, Option<u16>), String> {
    if entry.is_empty() {
        return Err("the entry is empty".to_owned());
    }
    if entry.contains("://") {
        return Err("write a host or host:port, without a scheme".to_owned());
    }
    if entry.contains(['/', '@', '?', '#', ' ']) {
        return Err("write a host or host:port, without a path, user or spaces".to_owned());
    }
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err("an IPv6 address is missing its closing `]`".to_owned());
        };
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err("expected `:port` after `]`".to_owned()),
            },
        }
    } else if entry.matches(':').count() > 1 {
        (entry, None)
    } else {
        match entry.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (entry, None),
        }
    };
    let port = match port {
        None => None,
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port > 0 => Some(port),
            _ => return Err(format!("{text:?} is not a port (1-65535)")),
        },
    };
    if host.is_empty() {
        return Err("the host is empty".to_owned());
    }
    Ok((host, port))
}

/// Parses a host the way a URL's host is parsed (IDNA, lower case, numeric IPv4 forms),
/// so that an entry and a URL agree on what they name.
fn parse_host(host: &str) -> Result<TargetHost, String> {
    if let Ok(ip) = host.parse::<Ipv6Addr>() {
        return Ok(TargetHost::Ip(IpAddr::V6(ip)));
    }
    let url =
        Url::parse(&format!("http://{host}/")).map_err(|e| format!("not a host name: {e}"))?;
    target_host(&url).ok_or_else(|| "not a host name".to_owned())
}

fn parse_rule(entry: &str) -> Result<HostRule, String> {
    let (host, port) = split_host_port(entry.trim())?;
    let pattern = if let Some(domain) = host.strip_prefix("*.") {
        if domain.contains('*') {
            return Err("`*` may only stand for the subdomains, as in `*.example.com`".to_owned());
        }
        match parse_host(domain)? {
            TargetHost::Name(name) if name.contains('.') => HostPattern::Subdomains(name),
            TargetHost::Name(_) => {
                return Err(
                    "`*.` must be followed by a domain with a dot, as in `*.example.com`"
                        .to_owned(),
                );
            }
            TargetHost::Ip(_) => return Err("`*.` cannot be followed by an IP address".to_owned()),
        }
    } else if host.contains('*') {
        return Err("`*` may only stand for the subdomains, as in `*.example.com`".to_owned());
    } else {
        match parse_host(host)? {
            TargetHost::Name(name) => HostPattern::Name(name),
            TargetHost::Ip(ip) => HostPattern::Ip(ip),
        }
    };
    Ok(HostRule {
        host: pattern,
        port,
    })
}

fn parse_private_entry(entry: &str) -> Result<(TargetHost, u16), String> {
    let (host, port) = split_host_port(entry.trim())?;
    if host.contains('*') {
        return Err(
            "allow_private names one exact host:port; wildcards are not accepted".to_owned(),
        );
    }
    let Some(port) = port else {
        return Err(format!(
            "allow_private names one exact host:port, as in \"{host}:8080\""
        ));
    };
    Ok((parse_host(host)?, port))
}

/// The kinds of address a fetch may not reach without `allow_private`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Loopback,
    Private,
    LinkLocal,
    SharedCgnat,
    Unspecified,
    Multicast,
    Broadcast,
    Documentation,
    Reserved,
    UniqueLocal,
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::LinkLocal => "link-local (cloud metadata)",
            AddressClass::SharedCgnat => "carrier-grade NAT (cloud metadata)",
            AddressClass::Unspecified => "unspecified (this-network)",
            AddressClass::Multicast => "multicast",
            AddressClass::Broadcast => "broadcast",
            AddressClass::Documentation => "documentation",
            AddressClass::Reserved => "reserved",
            AddressClass::UniqueLocal => "unique-local",
        })
    }
}

/// The refused class `ip` belongs to, or `None` for a public address. An IPv6 address
/// that carries an IPv4 one (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64
/// `64:ff9b::/96`, 6to4 `2002::/16`) is judged by the IPv4 address.
pub fn classify_address(ip: IpAddr) -> Option<AddressClass> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => AddressClass::Unspecified,
        (127, _, _) => AddressClass::Loopback,
        (10, _, _) => AddressClass::Private,
        (172, 16..=31, _) => AddressClass::Private,
        (192, 168, _) => AddressClass::Private,
        (169, 254, _) => AddressClass::LinkLocal,
        (100, 64..=127, _) => AddressClass::SharedCgnat,
        (192, 0, 0) => AddressClass::Reserved,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => AddressClass::Documentation,
        (198, 18..=19, _) => AddressClass::Reserved,
        (224..=239, _, _) => AddressClass::Multicast,
        _ if ip == Ipv4Addr::BROADCAST => AddressClass::Broadcast,
        (240..=255, _, _) => AddressClass::Reserved,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    let segments = ip.segments();
    if ip.is_unspecified() {
        return Some(AddressClass::Unspecified);
    }
    if ip.is_loopback() {
        return Some(AddressClass::Loopback);
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let embedded =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    // IPv4-compatible (deprecated, ::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d).
    if segments[..6] == [0; 6] || segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return classify_v4(embedded(segments[6], segments[7]));
    }
    // 6to4: 2002:aabb:ccdd::/48 carries a.b.c.d.
    if segments[0] == 0x2002 {
        return classify_v4(embedded(segments[1], segments[2]));
    }
    Some(match segments[0] {
        s if s & 0xfe00 == 0xfc00 => AddressClass::UniqueLocal,
        s if s & 0xffc0 == 0xfe80 => AddressClass::LinkLocal,
        // fec0::/10, the old site-local addresses.
        s if s & 0xffc0 == 0xfec0 => AddressClass::Private,
        s if s & 0xff00 == 0xff00 => AddressClass::Multicast,
        0x2001 if segments[1] == 0x0db8 => AddressClass::Documentation,
        0x3fff if segments[1] & 0xf000 == 0 => AddressClass::Documentation,
        0x0100 if segments[1..4] == [0, 0, 0] => AddressClass::Reserved,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(host: &str) -> TargetHost {
        TargetHost::Name(host.to_owned())
    }

    fn ip(text: &str) -> TargetHost {
        TargetHost::Ip(text.parse().expect("test address"))
    }

    #[test]
    fn allow_net_entries_match_hosts_and_ports() {
        let policy = NetPolicy::parse(
            &[
                "api.github.com",
                "*.googleapis.com",
                "hooks.example.com:8443",
                "203.0.114.7",
                "[2606:4700::1]:8080",
            ],
            &[],
        )
        .expect("valid policy");
        assert!(policy.check_target(&name("api.github.com"), 443).is_ok());
        assert!(policy.check_target(&name("api.github.com"), 80).is_ok());
        assert_eq!(
            policy.check_target(&name("api.github.com"), 8443),
            Err(TargetRefusal::NotAllowed)
        );
        assert!(
            policy
                .check_target(&name("storage.googleapis.com"), 443)
                .is_ok()
        );
        assert!(
            policy
                .check_target(&name("a.b.googleapis.com"), 443)
                .is_ok()
        );
        assert_eq!(
            policy.check_target(&name("googleapis.com"), 443),
            Err(TargetRefusal::NotAllowed)
        );
        assert_eq!(
            policy.check_target(&name("evilgoogleapis.com"), 443),
            Err(TargetRefusal::NotAllowed)
        );
        assert!(
            policy
                .check_target(&name("hooks.example.com"), 8443)
                .is_ok()
        );
        assert_eq!(
            policy.check_target(&name("hooks.example.com"), 443),
            Err(TargetRefusal::NotAllowed)
        );
        assert!(policy.check_target(&ip("203.0.114.7"), 443).is_ok());
        assert!(policy.check_target(&ip("2606:4700::1"), 8080).is_ok());
        assert_eq!(
            policy.check_target(&name("example.org"), 443),
            Err(TargetRefusal::NotAllowed)
        );
    }

    #[test]
    fn entries_are_normalised_like_urls() {
        let policy = NetPolicy::parse(&["API.GitHub.com.", "2130706433:8080"], &[]).expect("valid");
        assert!(policy.check_target(&name("api.github.com"), 443).is_ok());
        // The numeric form of 127.0.0.1 is that address, which is refused as loopback.
        assert_eq!(
            policy.check_target(&ip("127.0.0.1"), 8080),
            Err(TargetRefusal::Address(
                "127.0.0.1".parse().expect("ip"),
                AddressClass::Loopback
            ))
        );
    }

    #[test]
    fn bad_entries_are_named_in_the_error() {
        for (entry, why) in [
            ("", "empty"),
            ("https://api.github.com", "without a scheme"),
            ("api.github.com:0", "not a port"),
            ("api.github.com:http", "not a port"),
            ("*.com", "with a dot"),
            ("a.*.com", "subdomains"),
            ("api.github.com/path", "without a path"),
            ("[::1", "closing"),
        ] {
            let error = NetPolicy::parse(&[entry], &[]).expect_err(entry);
            assert!(
                error.contains(&format!("{entry:?}")) && error.contains(why),
                "{entry}: {error}"
            );
        }
        let error = NetPolicy::parse(&[], &["localhost"]).expect_err("no port");
        assert!(
            error.contains("allow_private entry \"localhost\"") && error.contains("localhost:8080"),
            "{error}"
        );
    }

    #[test]
    fn allow_private_is_exact_and_allows_the_host() {
        let policy = NetPolicy::parse(&["localhost:9000"], &["localhost:8080", "[::1]:8080"])
            .expect("valid");
        assert!(policy.check_target(&name("localhost"), 8080).is_ok());
        assert!(policy.private_allowed(&name("localhost"), 8080));
        assert!(!policy.private_allowed(&name("localhost"), 9000));
        assert!(policy.check_target(&ip("::1"), 8080).is_ok());
        assert_eq!(
            policy.check_target(&ip("::1"), 9000),
            Err(TargetRefusal::NotAllowed)
        );
    }

    #[test]
    fn refused_ranges_cover_the_known_traps() {
        for (text, class) in [
            ("127.0.0.1", AddressClass::Loopback),
            ("127.255.0.9", AddressClass::Loopback),
            ("10.1.2.3", AddressClass::Private),
            ("172.16.0.1", AddressClass::Private),
            ("172.31.255.255", AddressClass::Private),
            ("192.168.1.1", AddressClass::Private),
            ("169.254.169.254", AddressClass::LinkLocal),
            ("100.64.0.1", AddressClass::SharedCgnat),
            ("100.100.100.200", AddressClass::SharedCgnat),
            ("0.0.0.0", AddressClass::Unspecified),
            ("224.0.0.1", AddressClass::Multicast),
            ("255.255.255.255", AddressClass::Broadcast),
            ("192.0.2.1", AddressClass::Documentation),
            ("::1", AddressClass::Loopback),
            ("::", AddressClass::Unspecified),
            ("fc00::1", AddressClass::UniqueLocal),
            ("fd00:ec2::254", AddressClass::UniqueLocal),
            ("fe80::1", AddressClass::LinkLocal),
            ("ff02::1", AddressClass::Multicast),
            ("::ffff:127.0.0.1", AddressClass::Loopback),
            ("::ffff:169.254.169.254", AddressClass::LinkLocal),
            ("64:ff9b::a9fe:a9fe", AddressClass::LinkLocal),
            ("2002:7f00:1::", AddressClass::Loopback),
            ("2001:db8::1", AddressClass::Documentation),
        ] {
            let address: IpAddr = text.parse().expect("test address");
            assert_eq!(classify_address(address), Some(class), "{text}");
        }
        for public in [
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let address: IpAddr = public.parse().expect("test address");
            assert_eq!(classify_address(address), None, "{public}");
        }
    }

    #[test]
    fn messages_name_the_host_and_the_setting() {
        let policy = NetPolicy::parse::<&str>(&[], &[])
            .expect("empty")
            .named("poller");
        let message =
            policy.refusal_message(&name("api.example.com"), 443, &TargetRefusal::NotAllowed);
        assert_eq!(
            message,
            "fetch to api.example.com:443 refused: the host is not in the script's allow_net \
             (add \"api.example.com\" to allow_net of script `poller`)"
        );
        let message = policy.refusal_message(
            &name("localhost"),
            8080,
            &TargetRefusal::Address("127.0.0.1".parse().expect("ip"), AddressClass::Loopback),
        );
        assert!(
            message.contains("localhost resolves to 127.0.0.1, a loopback address"),
            "{message}"
        );
        assert!(
            message.contains("add \"localhost:8080\" to allow_private of script `poller`"),
            "{message}"
        );
        // A private address: allow_net alone would not let it through.
        let loopback = TargetHost::Ip("127.0.0.1".parse().expect("ip"));
        let message = policy.refusal_message(&loopback, 9, &TargetRefusal::NotAllowed);
        assert!(
            message.contains("add \"127.0.0.1:9\" to allow_private of script `poller`"),
            "{message}"
        );
        let policy = NetPolicy::parse(&["metadata.google.internal"], &[]).expect("valid");
        assert_eq!(
            policy.check_target(&name("metadata.google.internal"), 80),
            Err(TargetRefusal::MetadataName)
        );
    }
}
