//! Which web pages may use the visitor widget (SPEC section 11):
//! `SWITCHBOARD_ALLOWED_ORIGINS`, parsed once at start-up into [`AllowedOrigins`], so a
//! mistyped value stops the server with the reason instead of quietly allowing or
//! refusing sites.
//!
//! Origins compare as browsers compare them: scheme and host regardless of case, and a
//! missing port is the scheme's default, so `https://shop.example` and
//! `https://shop.example:443` are one origin. A pattern's host may begin with a wildcard
//! label: `*.example.com` stands for one or more labels in front of `example.com`, so it
//! matches `a.example.com` and `a.b.example.com` (shops nest, `eu.shop.example.com`) but
//! not `example.com` itself, which is listed on its own when wanted. A host that merely
//! ends in the same letters (`evilexample.com`) or goes on after them
//! (`example.com.evil`) never matches. A pattern's port may be `*`, any port.

use std::net::Ipv6Addr;
use std::str::FromStr;

/// The pages that may use the widget: any page, or those of the listed origins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    Any,
    Only(Vec<OriginPattern>),
}

impl AllowedOrigins {
    /// Whether a page of `origin` (an `Origin` header's value) may use the widget.
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            AllowedOrigins::Any => true,
            AllowedOrigins::Only(patterns) => Origin::parse(origin)
                .is_some_and(|origin| patterns.iter().any(|pattern| pattern.matches(&origin))),
        }
    }
}

impl FromStr for AllowedOrigins {
    type Err = InvalidOrigins;

    /// `*`, or comma-separated origins and patterns.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let entries: Vec<&str> = value.split(',').map(str::trim).collect();
        if entries == ["*"] {
            return Ok(AllowedOrigins::Any);
        }
        entries
            .into_iter()
            .map(OriginPattern::parse)
            .collect::<Result<_, _>>()
            .map(AllowedOrigins::Only)
    }
}

/// Why a value of `SWITCHBOARD_ALLOWED_ORIGINS` was refused, naming the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{entry}`: {problem}")]
pub struct InvalidOrigins {
    entry: String,
    problem: &'static str,
}

/// A web page's origin, normalised so that equal origins compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: Scheme,
    host: String,
    port: u16,
}

impl Origin {
    /// An `Origin` header, or a server's own `scheme://host[:port]`; `None` for anything
    /// else (`null`, other schemes, a path).
    pub fn parse(text: &str) -> Option<Origin> {
        let (scheme, host, port) = split(text).ok()?;
        let port = match port {
            None => scheme.default_port(),
            Some(raw) => parse_port(raw).ok()?,
        };
        Some(Origin {
            scheme,
            host: normal_host(host).ok()?,
            port,
        })
    }
}

/// One entry of the setting: an origin whose host may start with a wildcard label and
/// whose port may be `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: Scheme,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exactly(String),
    /// One or more labels in front of this domain.
    Below(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortPattern {
    Exactly(u16),
    Any,
}

const WILDCARD: &str = "a wildcard is one whole leading label, as in https://*.example.com";

impl OriginPattern {
    fn parse(entry: &str) -> Result<OriginPattern, InvalidOrigins> {
        let invalid = |problem| InvalidOrigins {
            entry: entry.to_owned(),
            problem,
        };
        match entry {
            "" => return Err(invalid("empty; list origins separated by commas, or `*`")),
            "*" => return Err(invalid("`*` allows every origin, so it stands alone")),
            _ => {}
        }
        let (scheme, host, port) = split(entry).map_err(invalid)?;
        let host = match host.strip_prefix("*.") {
            Some(domain) if domain.contains('*') || domain.starts_with('[') => {
                return Err(invalid(WILDCARD))
            }
            Some(domain) => HostPattern::Below(normal_host(domain).map_err(invalid)?),
            None if host.contains('*') => return Err(invalid(WILDCARD)),
            None => HostPattern::Exactly(normal_host(host).map_err(invalid)?),
        };
        let port = match port {
            None => PortPattern::Exactly(scheme.default_port()),
            Some("*") => PortPattern::Any,
            Some(raw) => PortPattern::Exactly(parse_port(raw).map_err(invalid)?),
        };
        Ok(OriginPattern { scheme, host, port })
    }

    fn matches(&self, origin: &Origin) -> bool {
        self.scheme == origin.scheme
            && self.host.matches(&origin.host)
            && self.port.matches(origin.port)
    }
}

impl HostPattern {
    fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exactly(name) => host == name,
            HostPattern::Below(domain) => host
                .strip_suffix(domain.as_str())
                .and_then(|front| front.strip_suffix('.'))
                .is_some_and(|labels| !labels.is_empty()),
        }
    }
}

impl PortPattern {
    fn matches(self, port: u16) -> bool {
        match self {
            PortPattern::Exactly(wanted) => port == wanted,
            PortPattern::Any => true,
        }
    }
}

/// Only web pages embed the widget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn parse(text: &str) -> Option<Scheme> {
        match text.to_ascii_lowercase().as_str() {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

const SHAPE: &str = "expected scheme://host[:port], as in https://shop.example";

/// `scheme://host[:port]` into its scheme, host (IPv6 in brackets) and port text.
fn split(text: &str) -> Result<(Scheme, &str, Option<&str>), &'static str> {
    let (scheme, rest) = text.split_once("://").ok_or(SHAPE)?;
    let scheme = Scheme::parse(scheme).ok_or("the scheme must be http or https")?;
    if rest.contains(['/', '?', '#', '@']) {
        return Err("an origin has no path, query or user name; expected scheme://host[:port]");
    }
    let (host, port) = match rest.find(']') {
        Some(end) if rest.starts_with('[') => match &rest[end + 1..] {
            "" => (rest, None),
            after => (&rest[..=end], Some(after.strip_prefix(':').ok_or(SHAPE)?)),
        },
        _ => match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        },
    };
    Ok((scheme, host, port))
}

/// A host in the form browsers put in `Origin`: a lower-case name or IPv4 address, or a
/// compressed IPv6 address in brackets.
fn normal_host(host: &str) -> Result<String, &'static str> {
    if let Some(address) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let address: Ipv6Addr = address.parse().map_err(|_| "not an IPv6 address")?;
        return Ok(format!("[{address}]"));
    }
    let host = host.to_ascii_lowercase();
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if host.split('.').all(label_ok) {
        Ok(host)
    } else {
        Err("the host must be a domain name (international ones in their xn-- form) or an IP address")
    }
}

fn parse_port(text: &str) -> Result<u16, &'static str> {
    let problem = "the port must be a number from 1 to 65535, or *";
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(problem);
    }
    text.parse().ok().filter(|port| *port != 0).ok_or(problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(setting: &str) -> AllowedOrigins {
        setting.parse().expect("a valid setting")
    }

    #[test]
    fn star_allows_every_page() {
        let any = allowed("*");
        assert_eq!(any, AllowedOrigins::Any);
        assert!(any.allows("https://shop.example"));
        assert!(any.allows("null"));
    }

    #[test]
    fn an_exact_origin_allows_that_origin_only() {
        let shop = allowed("https://shop.example");
        assert!(shop.allows("https://shop.example"));
        assert!(!shop.allows("http://shop.example"), "scheme must match");
        assert!(!shop.allows("https://www.shop.example"));
        assert!(!shop.allows("https://shop.example:8443"));
        assert!(!shop.allows("https://shop.example.evil"));
        assert!(!shop.allows("null"));
        assert!(!shop.allows(""));
    }

    #[test]
    fn a_missing_port_is_the_schemes_default() {
        assert!(allowed("https://shop.example").allows("https://shop.example:443"));
        assert!(allowed("https://shop.example:443").allows("https://shop.example"));
        assert!(allowed("http://shop.example").allows("http://shop.example:80"));
        assert!(!allowed("http://shop.example").allows("http://shop.example:443"));
    }

    #[test]
    fn a_star_port_allows_any_port_and_nothing_else() {
        let local = allowed("http://127.0.0.2:*");
        assert!(local.allows("http://127.0.0.2:41234"));
        assert!(local.allows("http://127.0.0.2"));
        assert!(!local.allows("http://127.0.0.3:41234"));
        assert!(!local.allows("https://127.0.0.2:41234"));
    }

    #[test]
    fn a_wildcard_label_allows_subdomains_at_any_depth_but_not_the_domain_itself() {
        let shops = allowed("https://*.example.com");
        assert!(shops.allows("https://a.example.com"));
        assert!(shops.allows("https://a.b.example.com"));
        assert!(!shops.allows("https://example.com"));
        assert!(!shops.allows("http://a.example.com"));
        assert!(!shops.allows("https://a.example.com:8443"));
    }

    #[test]
    fn a_wildcard_never_allows_lookalike_hosts() {
        let shops = allowed("https://*.example.com");
        assert!(!shops.allows("https://example.com.evil"));
        assert!(!shops.allows("https://a.example.com.evil"));
        assert!(!shops.allows("https://evilexample.com"));
        assert!(!shops.allows("https://a.evilexample.com"));
    }

    #[test]
    fn letter_case_and_spaces_around_entries_do_not_matter() {
        let list = allowed(" HTTPS://Shop.Example , https://*.Example.COM:* ");
        assert!(list.allows("https://shop.example"));
        assert!(list.allows("https://Help.example.com:9000"));
        assert!(!list.allows("https://other.example"));
    }

    #[test]
    fn ipv6_origins_compare_in_compressed_form() {
        let local = allowed("http://[0:0:0:0:0:0:0:1]:8080");
        assert!(local.allows("http://[::1]:8080"));
        assert!(!local.allows("http://[::2]:8080"));
        assert!(allowed("http://[::1]").allows("http://[::1]:80"));
    }

    #[test]
    fn own_origins_parse_like_origin_headers() {
        assert_eq!(
            Origin::parse("http://127.0.0.1:8080"),
            Origin::parse("HTTP://127.0.0.1:8080")
        );
        assert_eq!(
            Origin::parse("https://chat.example"),
            Origin::parse("https://chat.example:443")
        );
        assert_ne!(
            Origin::parse("http://chat.example"),
            Origin::parse("https://chat.example")
        );
        assert_eq!(Origin::parse("null"), None);
    }

    #[test]
    fn mistakes_are_refused_with_the_entry_named() {
        for setting in [
            "",
            " ",
            "https://shop.example,",
            "https://a.example,*",
            "shop.example",
            "ftp://shop.example",
            "https://shop.example/",
            "https://shop.example/path",
            "https://user@shop.example",
            "https://shop.example:",
            "https://shop.example:0",
            "https://shop.example:65536",
            "https://shop.example:+80",
            "https://*",
            "https://*.",
            "https://*example.com",
            "https://a*.example.com",
            "https://a.*.example.com",
            "https://*.*.example.com",
            "https://*.[::1]",
            "https://[::1",
            "https://[nope]",
            "https://shop..example",
            "https://shöp.example",
        ] {
            let error = setting
                .parse::<AllowedOrigins>()
                .expect_err(&format!("{setting:?} is refused"));
            let entry = setting.rsplit(',').next().unwrap_or_default().trim();
            assert!(
                error.to_string().starts_with(&format!("`{entry}`: ")),
                "{setting:?}: {error}"
            );
        }
    }
}
