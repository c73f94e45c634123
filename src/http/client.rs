//! Who sent a request and which URL they used (SPEC section 11, "Behind a reverse
//! proxy"): the client's address, for rate limits and login throttling, and the public
//! scheme and host, for the URLs the server hands out (`ws_url`) and its own origin.
//!
//! Behind a proxy the TCP peer is the proxy, and only the proxy knows the client. The
//! forwarding headers are therefore read (`http::forwarded`) only when the peer is one
//! of `SWITCHBOARD_TRUSTED_PROXIES`: anyone else could write them. Handlers take a
//! [`ClientInfo`] as a parameter and never read those headers themselves.

use std::future::{ready, Ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderMap, HOST};
use actix_web::{web, FromRequest, HttpRequest};

use super::forwarded::{parse_host, Forwarded, Scheme};
use super::trusted_proxies::TrustedProxies;
use crate::error::{Error, Result};
use crate::state::AppState;

/// The client of a request as the server counts and answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The TCP peer, or the client a trusted proxy forwarded the request for.
    pub ip: IpAddr,
    /// `https` when a trusted proxy says it received the request over TLS.
    pub scheme: Scheme,
    /// The `host[:port]` the client asked for, lower-cased; only name, address and port
    /// characters, so it is safe to put in a URL.
    pub host: String,
}

impl ClientInfo {
    /// The client of `req`. Fails only for a request without a peer address, which a TCP
    /// listener never gives.
    pub fn of(req: &HttpRequest) -> Result<ClientInfo> {
        let peer = req
            .peer_addr()
            .ok_or_else(|| Error::internal("request without a peer address"))?;
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| Error::internal("request without the application state"))?;
        let scheme = if req.app_config().secure() {
            Scheme::Https
        } else {
            Scheme::Http
        };
        let connection = ClientInfo {
            ip: peer.ip().to_canonical(),
            scheme,
            host: requested_host(req),
        };
        Ok(ClientInfo::resolve(
            connection,
            &state.config.trusted_proxies,
            req.headers(),
        ))
    }

    /// What `headers` change about `connection` (the peer, the listener's scheme and the
    /// host asked for): nothing unless the peer is a trusted proxy, and nothing where the
    /// proxy says nothing usable.
    fn resolve(
        connection: ClientInfo,
        proxies: &TrustedProxies,
        headers: &HeaderMap,
    ) -> ClientInfo {
        if !proxies.contains(connection.ip) {
            return connection;
        }
        let forwarded = Forwarded::read(headers, proxies);
        ClientInfo {
            ip: forwarded.from.unwrap_or(connection.ip),
            scheme: forwarded.scheme.unwrap_or(connection.scheme),
            host: forwarded.host.unwrap_or(connection.host),
        }
    }

    /// The server's own public origin as a browser writes it in an `Origin` header
    /// (`https://chat.example.com`, no default port): the origin of the pages it serves.
    pub fn public_origin(&self) -> String {
        let default_port = self.scheme.default_port();
        let host = self.host.strip_suffix(default_port).unwrap_or(&self.host);
        format!("{}://{host}", self.scheme.as_str())
    }
}

impl FromRequest for ClientInfo {
    type Error = Error;
    type Future = Ready<Result<ClientInfo>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(ClientInfo::of(req))
    }
}

/// The host the request was sent to: its `Host` header (HTTP/1.1), its target's
/// authority (HTTP/2), or the server's configured name.
fn requested_host(req: &HttpRequest) -> String {
    req.headers()
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .and_then(parse_host)
        .or_else(|| req.uri().authority().and_then(|a| parse_host(a.as_str())))
        .unwrap_or_else(|| req.app_config().host().to_owned())
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    /// What the connection itself says: the server listens on 10.0.0.1:8080 without TLS.
    fn connection(peer: &str) -> ClientInfo {
        ClientInfo {
            ip: peer.parse().unwrap(),
            scheme: Scheme::Http,
            host: "10.0.0.1:8080".into(),
        }
    }

    fn seen(peer: &str, proxies: &str, headers: &[(&str, &str)]) -> ClientInfo {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        ClientInfo::resolve(
            connection(peer),
            &TrustedProxies::parse(proxies).unwrap(),
            &map,
        )
    }

    const FORGED: &[(&str, &str)] = &[
        ("x-forwarded-for", "198.51.100.1"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "evil.example"),
        (
            "forwarded",
            "for=198.51.100.2;proto=https;host=evil.example",
        ),
    ];

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_its_headers_say() {
        assert_eq!(seen("203.0.113.5", "", FORGED), connection("203.0.113.5"));
        assert_eq!(
            seen("203.0.113.5", "10.0.0.0/8", FORGED),
            connection("203.0.113.5")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_the_url_it_was_asked_for() {
        let client = seen(
            "10.0.0.2",
            "10.0.0.2",
            &[
                ("x-forwarded-for", "203.0.113.7"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "Chat.Example.com"),
            ],
        );
        assert_eq!(
            client,
            ClientInfo {
                ip: "203.0.113.7".parse().unwrap(),
                scheme: Scheme::Https,
                host: "chat.example.com".into(),
            }
        );
    }

    #[test]
    fn what_a_trusted_proxy_leaves_out_or_garbles_is_the_connections() {
        let client = seen(
            "10.0.0.2",
            "10.0.0.2",
            &[
                ("x-forwarded-for", "unknown"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "evil.example/path"),
            ],
        );
        assert_eq!(
            client,
            ClientInfo {
                scheme: Scheme::Https,
                ..connection("10.0.0.2")
            }
        );
        assert_eq!(seen("10.0.0.2", "10.0.0.2", &[]), connection("10.0.0.2"));
    }

    #[test]
    fn an_ipv4_proxy_behind_a_dual_stack_listener_is_still_trusted() {
        let client = seen(
            "::ffff:10.0.0.2",
            "10.0.0.2",
            &[("x-forwarded-for", "203.0.113.7")],
        );
        assert_eq!(client.ip, "203.0.113.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_public_origin_is_written_as_browsers_write_it() {
        for (scheme, host, origin) in [
            (
                Scheme::Https,
                "chat.example.com",
                "https://chat.example.com",
            ),
            (
                Scheme::Https,
                "chat.example.com:443",
                "https://chat.example.com",
            ),
            (
                Scheme::Https,
                "chat.example.com:8443",
                "https://chat.example.com:8443",
            ),
            (Scheme::Http, "127.0.0.1:80", "http://127.0.0.1"),
            (Scheme::Http, "[::1]:8080", "http://[::1]:8080"),
        ] {
            let client = ClientInfo {
                ip: "203.0.113.7".parse().unwrap(),
                scheme,
                host: host.into(),
            };
            assert_eq!(client.public_origin(), origin);
        }
    }
}
