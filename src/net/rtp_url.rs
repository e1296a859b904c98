//! `rtp://[SOURCE@]ADDR:PORT`: where to listen, which group to join, which sender to accept.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

/// A parsed `rtp://` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpUrl {
    /// Local address and port to bind (the group's address for multicast).
    pub bind: SocketAddr,
    /// The multicast group to join, if ADDR is one.
    pub group: Option<IpAddr>,
    /// The only sender to accept (and, for multicast, the source of a source-specific join).
    pub source: Option<IpAddr>,
    /// The interface to join the group on (`rtp://[ff15::1%eth0]:5004`, or `--interface`);
    /// `None`: the one the routing table gives.
    pub interface: Option<String>,
}

/// A malformed `rtp://` URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid RTP URL '{url}': {reason} (forms: rtp://@:5004, rtp://0.0.0.0:5004, rtp://[::]:5004, rtp://239.1.2.3:5004, rtp://10.0.0.1@239.1.2.3:5004)")]
pub struct RtpUrlError {
    url: String,
    reason: &'static str,
}

impl FromStr for RtpUrl {
    type Err = RtpUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let bad = |reason| RtpUrlError {
            url: url.to_owned(),
            reason,
        };
        let rest = url
            .strip_prefix("rtp://")
            .ok_or(bad("it must start with rtp://"))?;
        let rest = rest.split(['/', '?']).next().unwrap_or(rest);
        let (source, hostport) = match rest.rsplit_once('@') {
            Some(("", hp)) => (None, hp),
            Some((src, hp)) => {
                let src = src.trim_start_matches('[').trim_end_matches(']');
                (
                    Some(
                        src.parse::<IpAddr>()
                            .map_err(|_| bad("the source must be an IP address"))?,
                    ),
                    hp,
                )
            }
            None => (None, rest),
        };
        let (host, port) = hostport.rsplit_once(':').ok_or(bad("a port is required"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| bad("the port must be a number 1-65535"))?;
        if port == 0 {
            return Err(bad("port 0 cannot receive"));
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        // An interface scope, as IPv6 writes it (`ff02::1%eth0`); taken for IPv4 groups too.
        let (host, interface) = match host.split_once('%') {
            Some((h, "")) => (h, None),
            Some((h, iface)) => (h, Some(iface.to_owned())),
            None => (host, None),
        };
        let ip: IpAddr = if host.is_empty() {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            host.parse()
                .map_err(|_| bad("the address must be an IP address"))?
        };
        if let (Some(src), true) = (source, ip.is_multicast()) {
            if src.is_ipv4() != ip.is_ipv4() {
                return Err(bad("source and group must be the same IP version"));
            }
        }
        let group = ip.is_multicast().then_some(ip);
        Ok(RtpUrl {
            bind: SocketAddr::new(ip, port),
            group,
            source,
            interface,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> RtpUrl {
        s.parse().unwrap()
    }

    #[test]
    fn listens_on_all_interfaces() {
        assert_eq!(url("rtp://@:5004").bind, "0.0.0.0:5004".parse().unwrap());
        assert_eq!(
            url("rtp://0.0.0.0:5004").bind,
            "0.0.0.0:5004".parse().unwrap()
        );
        assert_eq!(url("rtp://[::]:5004").bind, "[::]:5004".parse().unwrap());
        assert_eq!(url("rtp://127.0.0.1:6000").group, None);
    }

    #[test]
    fn multicast_and_source_specific() {
        let u = url("rtp://239.1.2.3:5004");
        assert_eq!(u.group, Some("239.1.2.3".parse().unwrap()));
        let u = url("rtp://10.0.0.1@239.1.2.3:5004");
        assert_eq!(
            (u.source, u.group),
            (
                Some("10.0.0.1".parse().unwrap()),
                Some("239.1.2.3".parse().unwrap())
            )
        );
        let u = url("rtp://[fe80::1]@[ff3e::1234]:5004");
        assert!(u.group.is_some() && u.source.is_some());
        let unicast_lock = url("rtp://192.168.1.9@0.0.0.0:5004");
        assert_eq!(
            (unicast_lock.source, unicast_lock.group),
            (Some("192.168.1.9".parse().unwrap()), None)
        );
    }

    #[test]
    fn an_interface_scope_names_the_interface_to_join_on() {
        let u = url("rtp://[ff15::1234%eth0]:5004");
        assert_eq!(u.interface.as_deref(), Some("eth0"));
        assert_eq!(u.group, Some("ff15::1234".parse().unwrap()));
        assert_eq!(
            url("rtp://239.1.2.3%lo:5004").interface.as_deref(),
            Some("lo")
        );
        assert_eq!(url("rtp://239.1.2.3:5004").interface, None);
    }

    #[test]
    fn mistakes_are_explained() {
        for bad in [
            "udp://1.2.3.4:5",
            "rtp://1.2.3.4",
            "rtp://1.2.3.4:0",
            "rtp://host:5004",
            "rtp://x@1.2.3.4:5",
            "rtp://::1@239.1.1.1:5",
        ] {
            let err = bad.parse::<RtpUrl>().unwrap_err().to_string();
            assert!(err.contains("invalid RTP URL"), "{bad}: {err}");
        }
    }
}
