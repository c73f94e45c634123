//! What a trusted reverse proxy's headers say about the client of a request (SPEC
//! section 11): its address, and the scheme and host of the URL it used. Proxies write
//! this as `X-Forwarded-For` / `X-Forwarded-Proto` / `X-Forwarded-Host` or as RFC 7239
//! `Forwarded`; this module reads both, walks the chain of hops, and parses every value
//! into a type. A value that does not parse says nothing, so the connection's own value
//! stands and a broken header never fails a request.
//!
//! Whether the headers are read at all, i.e. whether the peer is a trusted proxy, is
//! decided by the caller (`http::client`).

use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr};

use actix_web::http::header::{
    HeaderMap, HeaderName, FORWARDED, X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO,
};

use super::trusted_proxies::TrustedProxies;

/// The scheme of the URL a client used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn parse(text: &str) -> Option<Scheme> {
        match text.trim().to_ascii_lowercase().as_str() {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The WebSocket scheme over the same transport: `wss` where the client has TLS.
    pub fn websocket(self) -> &'static str {
        match self {
            Scheme::Http => "ws",
            Scheme::Https => "wss",
        }
    }

    /// The port a URL of this scheme leaves out.
    pub fn default_port(self) -> &'static str {
        match self {
            Scheme::Http => ":80",
            Scheme::Https => ":443",
        }
    }
}

/// What a trusted proxy says about the client; `None` where it says nothing usable.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Forwarded {
    /// The client's address.
    pub from: Option<IpAddr>,
    /// The scheme the client used.
    pub scheme: Option<Scheme>,
    /// The `host[:port]` the client asked for, as [`parse_host`] gives it.
    pub host: Option<String>,
}

impl Forwarded {
    /// Reads the headers of a request whose peer is one of `proxies`.
    pub fn read(headers: &HeaderMap, proxies: &TrustedProxies) -> Forwarded {
        // Common proxies (nginx, HAProxy, cloud load balancers) set X-Forwarded-* and pass
        // a client's own `Forwarded` header on untouched, so when both are present the
        // X-Forwarded-* family is the proxy's word and `Forwarded` may be the client's.
        let uses_x_forwarded = [X_FORWARDED_FOR, X_FORWARDED_PROTO, X_FORWARDED_HOST]
            .iter()
            .any(|name| headers.contains_key(name));
        let chain = if uses_x_forwarded {
            Chain::x_forwarded(headers)
        } else {
            Chain::rfc7239(headers)
        };
        chain.client_hop(proxies)
    }
}

/// The hops of a forwarding chain, the client's first, each a [`Forwarded`] written by
/// one proxy about the request it received: whom from (`None` for `unknown`, an
/// obfuscated name or garbage), over which scheme, for which host. `scheme` and `host`
/// are the ones given once for the whole chain, when the headers do that.
struct Chain {
    hops: Vec<Forwarded>,
    scheme: Option<Scheme>,
    host: Option<String>,
}

impl Chain {
    /// `X-Forwarded-For: client, proxy1, proxy2`, and `X-Forwarded-Proto` and
    /// `X-Forwarded-Host`, whose last value is the one the nearest proxy set.
    fn x_forwarded(headers: &HeaderMap) -> Chain {
        let hops = entries(headers, &X_FORWARDED_FOR)
            .into_iter()
            .map(|entry| Forwarded {
                from: entry.and_then(parse_node),
                ..Forwarded::default()
            })
            .collect();
        let last = |name| entries(headers, name).pop().flatten();
        Chain {
            hops,
            scheme: last(&X_FORWARDED_PROTO).and_then(Scheme::parse),
            host: last(&X_FORWARDED_HOST).and_then(parse_host),
        }
    }

    /// RFC 7239: `Forwarded: for=192.0.2.60;proto=https;host=chat.example.com, for=…`,
    /// one element per hop, over one or several header lines.
    fn rfc7239(headers: &HeaderMap) -> Chain {
        let hops = headers
            .get_all(FORWARDED)
            .flat_map(|value| match value.to_str() {
                Ok(text) => split_unquoted(text, ',')
                    .into_iter()
                    .map(parse_element)
                    .collect(),
                Err(_) => vec![Forwarded::default()],
            })
            .collect();
        Chain {
            hops,
            scheme: None,
            host: None,
        }
    }

    /// The hop that names the client. Each hop was added by a proxy about the request it
    /// received, so the walk goes from the nearest proxy back towards the client, past
    /// addresses that are themselves trusted proxies: the first address that is not one
    /// is the client. What lies further left was written by the client, or by proxies
    /// nobody vouches for, and may be forged; taking the rightmost untrusted address is
    /// the standard safe rule. Every hop the walk reaches was written by a trusted proxy,
    /// so the scheme and host of the one it stops at are trustworthy too. An address that
    /// does not parse stops the walk without naming anyone, so the peer stays the client.
    /// When every address is a trusted proxy, the farthest one is the client.
    fn client_hop(mut self, proxies: &TrustedProxies) -> Forwarded {
        let mut reached = Forwarded::default();
        while let Some(hop) = self.hops.pop() {
            let is_client = hop.from.is_none_or(|ip| !proxies.contains(ip));
            reached = hop;
            if is_client {
                break;
            }
        }
        Forwarded {
            from: reached.from,
            scheme: reached.scheme.or(self.scheme),
            host: reached.host.or(self.host),
        }
    }
}

/// The comma-separated entries of every `name` header, in order, trimmed; `None` for a
/// header that is not visible ASCII.
fn entries<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Vec<Option<&'a str>> {
    headers
        .get_all(name)
        .flat_map(|value| match value.to_str() {
            Ok(text) => text.split(',').map(|entry| Some(entry.trim())).collect(),
            Err(_) => vec![None],
        })
        .collect()
}

/// One `Forwarded` element: `;`-separated `name=value` pairs, names in any case, values
/// tokens or quoted strings. `by=` and unknown names say nothing about the client.
fn parse_element(element: &str) -> Forwarded {
    let mut hop = Forwarded::default();
    for pair in split_unquoted(element, ';') {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        let value = unquote(value.trim());
        match name.trim().to_ascii_lowercase().as_str() {
            "for" => hop.from = parse_node(&value),
            "proto" => hop.scheme = Scheme::parse(&value),
            "host" => hop.host = parse_host(&value),
            _ => {}
        }
    }
    hop
}

/// `text` split at each `separator` outside a quoted string.
fn split_unquoted(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            parts.push(&text[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&text[start..]);
    parts
}

/// The content of a quoted string (`"[2001:db8::1]:4711"`), or a token as it is.
fn unquote(value: &str) -> Cow<'_, str> {
    match value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        Some(inner) if inner.contains('\\') => {
            let mut unescaped = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                unescaped.extend(if c == '\\' { chars.next() } else { Some(c) });
            }
            Cow::Owned(unescaped)
        }
        Some(inner) => Cow::Borrowed(inner),
        None => Cow::Borrowed(value),
    }
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:4711`. `unknown` and obfuscated names (`_hidden`)
/// are not addresses.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    let ip = if let Some(rest) = text.strip_prefix('[') {
        let (address, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_node_port)) {
            return None;
        }
        IpAddr::V6(address.parse::<Ipv6Addr>().ok()?)
    } else if let Ok(ip) = text.parse::<IpAddr>() {
        ip
    } else {
        let (address, port) = text.rsplit_once(':')?;
        if !is_node_port(port) {
            return None;
        }
        IpAddr::V4(address.parse().ok()?)
    };
    Some(ip.to_canonical())
}

/// A port after a forwarded address: a number, or an obfuscated one (`_abc`, RFC 7239).
fn is_node_port(port: &str) -> bool {
    is_port(port)
        || port.strip_prefix('_').is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

fn is_port(port: &str) -> bool {
    port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok()
}

/// A host as a URL carries it, lower-cased: a name or IPv4 address (letters, digits,
/// `-`, `.`, `_`) or a bracketed IPv6 address, with an optional port. Anything else (a
/// path, user info, spaces) is refused, so no header can reshape a URL built from it.
pub fn parse_host(text: &str) -> Option<String> {
    let text = text.trim();
    let port = match text.strip_prefix('[') {
        Some(rest) => {
            let (address, port) = rest.split_once(']')?;
            address.parse::<Ipv6Addr>().ok()?;
            port
        }
        None => {
            let (name, port) = text.split_at(text.find(':').unwrap_or(text.len()));
            let is_name = !name.is_empty()
                && name.len() <= 253
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
            if !is_name {
                return None;
            }
            port
        }
    };
    let port_ok = port.is_empty() || port.strip_prefix(':').is_some_and(is_port);
    port_ok.then(|| text.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    /// What a request from a proxy in 10.0.0.0/8 with these headers says.
    fn read(headers: &[(&str, &[u8])]) -> Forwarded {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        Forwarded::read(&map, &TrustedProxies::parse("10.0.0.0/8").unwrap())
    }

    fn from(text: &str) -> Forwarded {
        Forwarded {
            from: Some(text.parse().unwrap()),
            ..Forwarded::default()
        }
    }

    #[test]
    fn a_chain_is_walked_from_the_right_past_trusted_proxies() {
        // The client claimed to be 198.51.100.66; the edge proxy saw 203.0.113.7.
        let one_line = read(&[("x-forwarded-for", b"198.51.100.66, 203.0.113.7, 10.0.0.9")]);
        assert_eq!(one_line, from("203.0.113.7"));
        let two_lines = read(&[
            ("x-forwarded-for", b"198.51.100.66"),
            ("x-forwarded-for", b"203.0.113.7,10.0.0.9"),
        ]);
        assert_eq!(two_lines, from("203.0.113.7"));
    }

    #[test]
    fn when_every_address_is_a_trusted_proxy_the_farthest_is_the_client() {
        assert_eq!(
            read(&[("x-forwarded-for", b"10.0.0.7, 10.0.0.9")]),
            from("10.0.0.7")
        );
    }

    #[test]
    fn the_nearest_proxy_gives_the_scheme_and_host() {
        let forwarded = read(&[
            ("x-forwarded-for", b"203.0.113.7"),
            ("x-forwarded-proto", b"http, HTTPS"),
            ("x-forwarded-host", b"Chat.Example.com:8443"),
        ]);
        assert_eq!(
            forwarded,
            Forwarded {
                scheme: Some(Scheme::Https),
                host: Some("chat.example.com:8443".into()),
                ..from("203.0.113.7")
            }
        );
    }

    #[test]
    fn forwarded_elements_are_read_as_rfc_7239_writes_them() {
        let header: &[u8] = b"for=198.51.100.66;proto=http, \
            For=\"[2001:DB8::1]:4711\";Proto=https;host=\"chat.example.com\", \
            for=10.0.0.9;proto=http;by=10.0.0.2";
        assert_eq!(
            read(&[("forwarded", header)]),
            Forwarded {
                scheme: Some(Scheme::Https),
                host: Some("chat.example.com".into()),
                ..from("2001:db8::1")
            },
            "the scheme and host of the element naming the client, not the inner hop's"
        );
        let two_lines = read(&[
            ("forwarded", b"for=203.0.113.7;proto=https"),
            ("forwarded", b"for=\"10.0.0.9:80\""),
        ]);
        assert_eq!(
            two_lines,
            Forwarded {
                scheme: Some(Scheme::Https),
                ..from("203.0.113.7")
            }
        );
    }

    #[test]
    fn x_forwarded_headers_win_over_a_forwarded_header_the_client_may_have_written() {
        let forwarded = read(&[
            (
                "forwarded",
                b"for=198.51.100.66;proto=https;host=evil.example",
            ),
            ("x-forwarded-for", b"203.0.113.7"),
        ]);
        assert_eq!(forwarded, from("203.0.113.7"));
    }

    #[test]
    fn proxies_may_write_ports_and_bare_or_bracketed_ipv6_addresses() {
        for (entry, client) in [
            ("203.0.113.7:51234", "203.0.113.7"),
            ("2001:db8::5", "2001:db8::5"),
            ("[2001:db8::5]", "2001:db8::5"),
            ("[2001:db8::5]:443", "2001:db8::5"),
            ("::ffff:203.0.113.7", "203.0.113.7"),
        ] {
            let forwarded = read(&[("x-forwarded-for", entry.as_bytes())]);
            assert_eq!(forwarded, from(client), "{entry}");
        }
        let obfuscated_port = read(&[("forwarded", b"for=\"[2001:db8::5]:_abc\"")]);
        assert_eq!(obfuscated_port, from("2001:db8::5"));
    }

    #[test]
    fn what_does_not_parse_says_nothing() {
        let malformed: &[(&str, &[u8])] = &[
            ("x-forwarded-for", b"not-an-address"),
            ("x-forwarded-for", b"203.0.113.7, unknown"),
            ("x-forwarded-for", b"203.0.113.7:99999"),
            ("x-forwarded-for", b"203.0.113.7:+80"),
            ("x-forwarded-for", b"\xff\xfe"),
            ("x-forwarded-for", b""),
            ("x-forwarded-proto", b"ftp"),
            ("x-forwarded-host", b"evil.example/path"),
            ("x-forwarded-host", b"user@evil.example"),
            ("x-forwarded-host", b"evil example"),
            ("x-forwarded-host", b"evil.example:http"),
            ("x-forwarded-host", b"[not-v6]:80"),
            ("forwarded", b"for=unknown"),
            ("forwarded", b"for=_hidden;proto=gopher"),
            ("forwarded", b"for=\"[2001:db8::1\""),
            ("forwarded", b"for=\"[2001:db8::1]x\""),
            ("forwarded", b"proto"),
            ("forwarded", b";;,,"),
            ("forwarded", b"\xff"),
        ];
        for header in malformed {
            assert_eq!(read(&[*header]), Forwarded::default(), "{header:?}");
        }
    }

    #[test]
    fn an_unknown_client_does_not_hide_the_scheme_and_host_of_its_hop() {
        let forwarded = read(&[(
            "forwarded",
            b"for=unknown;proto=https;host=chat.example.com",
        )]);
        assert_eq!(
            forwarded,
            Forwarded {
                from: None,
                scheme: Some(Scheme::Https),
                host: Some("chat.example.com".into()),
            }
        );
    }

    #[test]
    fn quoted_strings_may_hold_separators_and_escapes() {
        let forwarded = read(&[(
            "forwarded",
            b"for=203.0.113.7;host=\"chat.example.com\";ext=\"a,b;c \\\"d\\\"\"",
        )]);
        assert_eq!(
            forwarded,
            Forwarded {
                host: Some("chat.example.com".into()),
                ..from("203.0.113.7")
            }
        );
        assert_eq!(unquote("\"a\\\"b\""), "a\"b");
    }

    #[test]
    fn hosts_are_names_or_addresses_with_an_optional_port() {
        for (host, parsed) in [
            ("Chat.Example.com", Some("chat.example.com")),
            ("chat.example.com:8443", Some("chat.example.com:8443")),
            ("192.0.2.1:80", Some("192.0.2.1:80")),
            ("[2001:DB8::1]:443", Some("[2001:db8::1]:443")),
            ("", None),
            (":443", None),
            ("chat.example.com:", None),
            ("chat.example.com:65536", None),
            ("chat.example.com#x", None),
            ("[2001:db8::1]443", None),
        ] {
            assert_eq!(parse_host(host).as_deref(), parsed, "{host}");
        }
    }
}
