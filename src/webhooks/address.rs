//! Which URLs a webhook may point at: `http` or `https`, and (unless
//! `SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE`) never a host that resolves to loopback, private,
//! link-local or otherwise internal addresses, so a webhook cannot be used to reach
//! services behind the server. The host is resolved when the webhook is created and
//! again before every delivery, and the delivery connects to the address that was
//! checked, so changing the DNS record afterwards does not get around the rule.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use awc::http::Uri;

use crate::error::{Error, Result};

/// Longest URL accepted.
pub const MAX_URL_CHARS: usize = 2000;

/// A URL that passed the syntactic checks.
#[derive(Debug, Clone)]
pub struct WebhookUrl {
    pub uri: Uri,
    host: String,
    port: u16,
}

impl WebhookUrl {
    pub fn parse(raw: &str) -> Result<WebhookUrl> {
        if raw.chars().count() > MAX_URL_CHARS {
            return Err(Error::bad_request(format!(
                "url: at most {MAX_URL_CHARS} characters"
            )));
        }
        let uri: Uri = raw
            .parse()
            .map_err(|_| Error::bad_request("url: not a valid URL"))?;
        let port = match uri.scheme_str() {
            Some("http") => 80,
            Some("https") => 443,
            _ => return Err(Error::bad_request("url: only http and https URLs")),
        };
        let host = uri
            .host()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| Error::bad_request("url: a host is required"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(port);
        Ok(WebhookUrl { uri, host, port })
    }

    /// Resolves the host and returns the address to connect to; refuses the URL when
    /// any address it resolves to is internal and those are not allowed.
    pub async fn resolve(&self, allow_private: bool) -> Result<SocketAddr> {
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| Error::bad_request(format!("url: cannot resolve {}: {e}", self.host)))?
            .collect();
        let first = *addresses
            .first()
            .ok_or_else(|| Error::bad_request(format!("url: {} has no address", self.host)))?;
        if allow_private {
            return Ok(first);
        }
        if let Some(internal) = addresses.iter().find(|a| is_internal(a.ip())) {
            return Err(Error::bad_request(format!(
                "url: {} resolves to {}, a loopback, private or link-local address \
                 (set SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE=true to allow it)",
                self.host,
                internal.ip()
            )));
        }
        Ok(first)
    }
}

/// Addresses that lead into the server's own machine or network rather than to the
/// public internet.
fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_internal_v4(v4),
            None => is_internal_v6(v6),
        },
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        // Carrier-grade NAT, 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
}

/// IPv6 ranges that are internal, and the ones that carry an IPv4 address a gateway
/// would reach on the server's behalf (NAT64, 6to4, IPv4-compatible): those are refused
/// whatever IPv4 address they carry, since the gateway decides where they lead.
fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let first = segments[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local, fc00::/7.
        || (first & 0xfe00) == 0xfc00
        // Link-local, fe80::/10.
        || (first & 0xffc0) == 0xfe80
        // NAT64, 64:ff9b::/96.
        || segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
        // 6to4, 2002::/16.
        || first == 0x2002
        // IPv4-compatible, ::a.b.c.d (deprecated, still routed by some stacks).
        || segments[..6] == [0; 6]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn internal(text: &str) -> bool {
        is_internal(text.parse().expect("an address"))
    }

    #[test]
    fn internal_ranges_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::",
            "64:ff9b::a00:1",
            "64:ff9b::808:808",
            "2002:c0a8:101::1",
            "2002:808:808::1",
            "::127.0.0.1",
            "::8.8.8.8",
        ] {
            assert!(internal(ip), "{ip} is internal");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "172.32.0.1",
            "64:ff9c::1",
            "2003::1",
        ] {
            assert!(!internal(ip), "{ip} is public");
        }
    }

    #[test]
    fn only_http_and_https_urls_with_a_host_are_accepted() {
        assert!(WebhookUrl::parse("http://example.com/hook").is_ok());
        assert!(WebhookUrl::parse("http://example.com:8080/hook").is_ok());
        assert!(WebhookUrl::parse("https://example.com/hook").is_ok());
        for url in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "example.com",
            "http://",
        ] {
            assert!(WebhookUrl::parse(url).is_err(), "{url} is refused");
        }
    }

    #[tokio::test]
    async fn loopback_is_refused_unless_allowed() {
        let url = WebhookUrl::parse("http://127.0.0.1:9/hook").unwrap();
        assert!(url.resolve(false).await.is_err());
        assert!(url.resolve(true).await.is_ok());
    }
}
