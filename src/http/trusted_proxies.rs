//! The reverse proxies whose word the server takes about a request (SPEC section 11):
//! `SWITCHBOARD_TRUSTED_PROXIES`, addresses and CIDR ranges parsed once at start-up.
//! Only a request whose TCP peer is in this set may say, through `Forwarded` or
//! `X-Forwarded-*`, who the client is and which URL it used (`http::client`).
//!
//! The range matching is a few lines of bit masks, so the server carries no crate for it.

use std::net::IpAddr;

/// The trusted proxies; empty (the default) trusts no peer at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpRange>);

impl TrustedProxies {
    /// Parses a comma-separated list of addresses (`10.0.0.1`, `2001:db8::1`) and CIDR
    /// ranges (`10.0.0.0/8`, `2001:db8::/32`); blanks around entries and empty entries
    /// are ignored, so an empty setting trusts nobody.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(IpRange::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    /// Whether `ip` is one of the proxies. An IPv4 address seen as IPv6 (`::ffff:a.b.c.d`,
    /// as a dual-stack listener reports IPv4 peers) counts as that IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|range| range.contains(ip))
    }
}

/// One address or CIDR range, with the host bits below its prefix cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IpRange {
    V4 { network: u32, prefix: u32 },
    V6 { network: u128, prefix: u32 },
}

impl IpRange {
    fn parse(entry: &str) -> Result<IpRange, String> {
        let (address, prefix) = match entry.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (entry, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("`{entry}` is not an IP address or a CIDR range"))?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(prefix) => prefix
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| prefix.parse::<u32>().ok())
                .flatten()
                .filter(|prefix| *prefix <= bits)
                .ok_or_else(|| format!("`{entry}`: the prefix length must be 0 to {bits}"))?,
        };
        Ok(match address {
            IpAddr::V4(v4) => IpRange::V4 {
                network: u32::from(v4) & mask_v4(prefix),
                prefix,
            },
            IpAddr::V6(v6) => IpRange::V6 {
                network: u128::from(v6) & mask_v6(prefix),
                prefix,
            },
        })
    }

    fn contains(self, ip: IpAddr) -> bool {
        match (self, ip) {
            (IpRange::V4 { network, prefix }, IpAddr::V4(v4)) => {
                u32::from(v4) & mask_v4(prefix) == network
            }
            (IpRange::V6 { network, prefix }, IpAddr::V6(v6)) => {
                u128::from(v6) & mask_v6(prefix) == network
            }
            _ => false,
        }
    }
}

fn mask_v4(prefix: u32) -> u32 {
    u32::MAX.checked_shl(32 - prefix).unwrap_or(0)
}

fn mask_v6(prefix: u32) -> u128 {
    u128::MAX.checked_shl(128 - prefix).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn addresses_and_ranges_of_both_families_are_trusted_and_nothing_else() {
        let proxies = TrustedProxies::parse(" 192.0.2.7, 10.0.0.0/8,2001:db8::/32 ,::1").unwrap();
        for trusted in [
            "192.0.2.7",
            "10.0.0.1",
            "10.255.255.255",
            "2001:db8:ffff::1",
            "::1",
        ] {
            assert!(proxies.contains(ip(trusted)), "{trusted}");
        }
        for untrusted in [
            "192.0.2.8",
            "11.0.0.0",
            "9.255.255.255",
            "2001:db9::1",
            "::2",
        ] {
            assert!(!proxies.contains(ip(untrusted)), "{untrusted}");
        }
    }

    #[test]
    fn nobody_is_trusted_by_default() {
        let proxies = TrustedProxies::parse("").unwrap();
        assert_eq!(proxies, TrustedProxies::default());
        assert!(!proxies.contains(ip("127.0.0.1")));
        assert!(!proxies.contains(ip("::1")));
    }

    #[test]
    fn an_ipv4_peer_seen_through_a_dual_stack_listener_is_matched_as_ipv4() {
        let proxies = TrustedProxies::parse("127.0.0.1").unwrap();
        assert!(proxies.contains(ip("::ffff:127.0.0.1")));
        assert!(!proxies.contains(ip("::ffff:127.0.0.2")));
    }

    #[test]
    fn a_range_is_its_network_whatever_host_bits_it_was_written_with() {
        let proxies = TrustedProxies::parse("10.1.2.3/16").unwrap();
        assert!(proxies.contains(ip("10.1.200.1")));
        assert!(!proxies.contains(ip("10.2.0.1")));
    }

    #[test]
    fn a_zero_prefix_covers_its_whole_family_only() {
        let proxies = TrustedProxies::parse("0.0.0.0/0").unwrap();
        assert!(proxies.contains(ip("203.0.113.1")));
        assert!(!proxies.contains(ip("2001:db8::1")));
        let proxies = TrustedProxies::parse("::/0").unwrap();
        assert!(proxies.contains(ip("2001:db8::1")));
        assert!(!proxies.contains(ip("203.0.113.1")));
    }

    #[test]
    fn a_bad_entry_is_refused_with_the_entry_named() {
        for bad in [
            "proxy.internal",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/8/8",
            "10.0.0.1 10.0.0.2",
            "10.0.0.256",
        ] {
            let error = TrustedProxies::parse(&format!("127.0.0.1,{bad}")).unwrap_err();
            assert!(error.contains(bad), "{bad}: {error}");
        }
    }
}
