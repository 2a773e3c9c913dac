//! The real client address behind trusted reverse proxies.
//!
//! The TCP peer is the client unless it lies in one of the operator's `--trusted-proxy`
//! networks. Only then is the forwarding header the operator chose read (`X-Forwarded-For` by
//! default, or RFC 7239 `Forwarded: for=`): its addresses are walked from the right, trusted
//! ones skipped, and the first untrusted address is the client. A header from an untrusted peer
//! is ignored, so a client cannot choose the address that source-address policy conditions
//! (`acs:SourceIp`, `qcs:ip`) and the audit see.
//!
//! Only one header is honoured, the one the proxy writes: a proxy that appends to
//! `X-Forwarded-For` usually passes a client's own `Forwarded` header through untouched (and
//! the other way round), so honouring both would let a client name any address.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// Which forwarding header a trusted proxy writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardingHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

/// The networks whose connections may name the client in a forwarding header.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardingHeader,
}

/// A `--trusted-proxy` value that is not an address or a network.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an IP address or a CIDR network such as 10.0.0.0/8")]
pub struct InvalidNetwork(String);

/// Parses `10.0.0.0/8`, `::1/128` or a bare address (a network of one).
pub fn parse_network(text: &str) -> Result<IpNet, InvalidNetwork> {
    let text = text.trim();
    if let Ok(network) = text.parse::<IpNet>() {
        return Ok(network.trunc());
    }
    text.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| InvalidNetwork(text.to_owned()))
}

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>, header: ForwardingHeader) -> Self {
        Self { networks, header }
    }

    /// Whether `address` is one of the trusted proxies.
    pub fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.networks
            .iter()
            .any(|network| network.contains(&address))
    }

    /// The client's address: the TCP `peer`, or, when the peer is trusted, the first untrusted
    /// address of the forwarding header counted from the right.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let hops = match self.header {
            ForwardingHeader::XForwardedFor => {
                forwarded_hops(headers, "x-forwarded-for", |item| parse_hop(item.trim()))
            }
            ForwardingHeader::Forwarded => forwarded_hops(headers, "forwarded", forwarded_for),
        };
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            // A hop that names no address (`unknown`, an obfuscated identifier, garbage) ends
            // the walk: the last address known is the nearest one that can be vouched for.
            let Some(address) = hop else { break };
            client = address;
            if !self.trusts(address) {
                break;
            }
        }
        client
    }
}

/// Every comma-separated element of every `name` header, in order, each parsed by `parse`.
fn forwarded_hops(
    headers: &HeaderMap,
    name: &str,
    parse: impl Fn(&str) -> Option<IpAddr>,
) -> Vec<Option<IpAddr>> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(parse)
        .collect()
}

/// The `for=` address of one RFC 7239 forwarded element (`for=192.0.2.60;proto=https`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        parse_hop(value.trim().trim_matches('"'))
    })
}

/// An address as proxies write it: `192.0.2.60`, `192.0.2.60:4711`, `2001:db8::1` or
/// `[2001:db8::1]:4711`.
fn parse_hop(text: &str) -> Option<IpAddr> {
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(canonical(address));
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (address, _) = rest.split_once(']')?;
        return address.parse::<IpAddr>().ok().map(canonical);
    }
    let (address, port) = text.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    address.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, as a dual-stack listener reports IPv4
/// peers) as the IPv4 address it is.
pub fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn proxies(networks: &[&str], header: ForwardingHeader) -> TrustedProxies {
        TrustedProxies::new(
            networks
                .iter()
                .map(|text| parse_network(text).unwrap())
                .collect(),
            header,
        )
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// The client address `trusted` finds for a request from `peer` with `headers`.
    fn client(trusted: &TrustedProxies, peer: &str, headers: &HeaderMap) -> IpAddr {
        trusted.client_address(ip(peer), headers)
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = proxies(&["10.0.0.0/8"], ForwardingHeader::XForwardedFor);
        let claims = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(client(&trusted, "192.0.2.1", &claims), ip("192.0.2.1"));
        let nobody = TrustedProxies::default();
        assert_eq!(client(&nobody, "10.0.0.1", &claims), ip("10.0.0.1"));
    }

    #[test]
    fn the_walk_from_the_right_skips_trusted_hops_only() {
        let trusted = proxies(&["10.0.0.0/8", "::1"], ForwardingHeader::XForwardedFor);
        let spoofed = headers(&[
            ("x-forwarded-for", "198.51.100.9, 203.0.113.7"),
            ("x-forwarded-for", "10.1.1.1"),
        ]);
        assert_eq!(client(&trusted, "10.0.0.2", &spoofed), ip("203.0.113.7"));
        let with_ports = headers(&[("x-forwarded-for", "[2001:db8::5]:443, 10.2.2.2:80")]);
        assert_eq!(client(&trusted, "::1", &with_ports), ip("2001:db8::5"));
        let garbage = headers(&[("x-forwarded-for", "203.0.113.7, not-an-address")]);
        assert_eq!(client(&trusted, "10.0.0.2", &garbage), ip("10.0.0.2"));
        assert_eq!(
            client(&trusted, "10.0.0.2", &HeaderMap::new()),
            ip("10.0.0.2")
        );
        let all_trusted = headers(&[("x-forwarded-for", "10.9.9.9, 10.8.8.8")]);
        assert_eq!(client(&trusted, "10.0.0.2", &all_trusted), ip("10.9.9.9"));
    }

    #[test]
    fn only_the_configured_header_counts() {
        let both = headers(&[
            ("x-forwarded-for", "203.0.113.7"),
            (
                "forwarded",
                "for=198.51.100.1;proto=https, For=\"[2001:db8:cafe::17]:4711\"",
            ),
        ]);
        let forwarded = proxies(&["127.0.0.0/8"], ForwardingHeader::Forwarded);
        assert_eq!(
            client(&forwarded, "127.0.0.1", &both),
            ip("2001:db8:cafe::17")
        );
        let x_forwarded_for = proxies(&["127.0.0.0/8"], ForwardingHeader::XForwardedFor);
        assert_eq!(
            client(&x_forwarded_for, "127.0.0.1", &both),
            ip("203.0.113.7")
        );
        let unknown = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(client(&forwarded, "127.0.0.1", &unknown), ip("127.0.0.1"));
    }

    #[test]
    fn networks_parse_strictly_and_mapped_addresses_match() {
        assert!(parse_network("10.0.0.0/33").is_err());
        assert!(parse_network("example.com").is_err());
        assert_eq!(
            parse_network("10.1.2.3/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        let trusted = proxies(&["127.0.0.1"], ForwardingHeader::XForwardedFor);
        assert!(trusted.trusts(ip("::ffff:127.0.0.1")));
        assert!(!trusted.trusts(ip("127.0.0.2")));
    }
}
