//! [`Cidr`]: an IPv4 or IPv6 network as firewall rules name their sources.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An IPv4 or IPv6 network in canonical form: host bits cleared, prefix explicit.
///
/// Parsing accepts `addr/prefix` and a bare address (a single host, `/32` or `/128`), and
/// clears host bits, so `10.1.2.3/8` and `10.0.0.0/8` are the same network. Display gives
/// the canonical text (`10.0.0.0/8`, `2001:db8::/32`), which parses back to the same value;
/// that text is what providers send and what rule identity compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cidr {
    /// An IPv4 network; the prefix is 0–32.
    V4(Ipv4Addr, u8),
    /// An IPv6 network; the prefix is 0–128.
    V6(Ipv6Addr, u8),
}

fn mask_v4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl Cidr {
    /// Every IPv4 address, `0.0.0.0/0`.
    pub const ANY_V4: Self = Self::V4(Ipv4Addr::UNSPECIFIED, 0);
    /// Every IPv6 address, `::/0`.
    pub const ANY_V6: Self = Self::V6(Ipv6Addr::UNSPECIFIED, 0);

    /// The network of `addr` with `prefix` bits (clamped to the address's width).
    pub fn new(addr: IpAddr, prefix: u8) -> Self {
        match addr {
            IpAddr::V4(a) => {
                let prefix = prefix.min(32);
                Self::V4(Ipv4Addr::from(u32::from(a) & mask_v4(prefix)), prefix)
            }
            IpAddr::V6(a) => {
                let prefix = prefix.min(128);
                Self::V6(Ipv6Addr::from(u128::from(a) & mask_v6(prefix)), prefix)
            }
        }
    }

    /// Parses `addr/prefix` or a bare address, clearing host bits. The error says what is
    /// wrong, for people; callers put it after the field name.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = address.parse().map_err(|_| {
            format!("{text:?} is not a CIDR such as 203.0.113.0/24 or 2001:db8::/32")
        })?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| {
                format!("{text:?} has prefix length {p:?}; expected 0 to {max} for this address")
            })?,
        };
        Ok(Self::new(addr, prefix))
    }

    /// The network address (host bits cleared).
    pub fn address(&self) -> IpAddr {
        match *self {
            Self::V4(a, _) => IpAddr::V4(a),
            Self::V6(a, _) => IpAddr::V6(a),
        }
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        match *self {
            Self::V4(_, p) | Self::V6(_, p) => p,
        }
    }

    /// True for IPv4 networks.
    pub fn is_ipv4(&self) -> bool {
        matches!(self, Self::V4(..))
    }

    /// True for `0.0.0.0/0` and `::/0`: every address of its family.
    pub fn is_any(&self) -> bool {
        self.prefix() == 0
    }

    /// True when `addr` lies inside this network.
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (*self, addr) {
            (Self::V4(net, p), IpAddr::V4(a)) => u32::from(a) & mask_v4(p) == u32::from(net),
            (Self::V6(net, p), IpAddr::V6(a)) => u128::from(a) & mask_v6(p) == u128::from(net),
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4(a, p) => write!(f, "{a}/{p}"),
            Self::V6(a, p) => write!(f, "{a}/{p}"),
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parsing_is_canonical() {
        let cases = [
            ("10.1.2.3/8", "10.0.0.0/8"),
            ("10.1.2.3", "10.1.2.3/32"),
            (" 192.0.2.7/24 ", "192.0.2.0/24"),
            ("2001:db8::1/32", "2001:db8::/32"),
            ("2001:db8::1", "2001:db8::1/128"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("::/0", "::/0"),
        ];
        for (input, canonical) in cases {
            assert_eq!(
                Cidr::parse(input).unwrap().to_string(),
                canonical,
                "{input}"
            );
        }
        assert!(Cidr::parse("0.0.0.0/0").unwrap().is_any());
        assert!(Cidr::parse("::/0").unwrap().is_any());
        assert!(!Cidr::parse("10.0.0.0/8").unwrap().is_any());
    }

    #[test]
    fn rejects_with_reasons() {
        for (input, reason) in [
            ("nope", "is not a CIDR"),
            ("10.0.0.0/33", "expected 0 to 32"),
            ("10.0.0.0/x", "prefix length \"x\""),
            ("2001:db8::/129", "expected 0 to 128"),
            ("", "is not a CIDR"),
            ("10.0.0.0/", "prefix length \"\""),
        ] {
            let err = Cidr::parse(input).unwrap_err();
            assert!(err.contains(reason), "{input:?}: {err}");
        }
    }

    #[test]
    fn contains_and_families() {
        let net = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.200.1.1".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        assert!(Cidr::ANY_V6.contains("2001:db8::5".parse().unwrap()));
        assert!(net.is_ipv4() && !Cidr::ANY_V6.is_ipv4());
    }

    #[test]
    fn serde_uses_the_canonical_text() {
        let net = Cidr::parse("10.1.0.0/8").unwrap();
        assert_eq!(serde_json::to_string(&net).unwrap(), "\"10.0.0.0/8\"");
        let back: Cidr = serde_json::from_str("\"10.0.0.0/8\"").unwrap();
        assert_eq!(back, net);
        assert!(serde_json::from_str::<Cidr>("\"10/8\"").is_err());
    }

    fn any_cidr() -> impl Strategy<Value = Cidr> {
        prop_oneof![
            (any::<u32>(), 0u8..=32).prop_map(|(a, p)| Cidr::new(IpAddr::V4(a.into()), p)),
            (any::<u128>(), 0u8..=128).prop_map(|(a, p)| Cidr::new(IpAddr::V6(a.into()), p)),
        ]
    }

    proptest! {
        #[test]
        fn display_parses_back(cidr in any_cidr()) {
            prop_assert_eq!(Cidr::parse(&cidr.to_string()).unwrap(), cidr);
        }

        #[test]
        fn a_network_contains_its_own_address(cidr in any_cidr()) {
            prop_assert!(cidr.contains(cidr.address()));
        }

        #[test]
        fn parsing_an_address_with_host_bits_clears_them(a in any::<u32>(), p in 0u8..=32) {
            let text = format!("{}/{p}", Ipv4Addr::from(a));
            let cidr = Cidr::parse(&text).unwrap();
            prop_assert!(cidr.contains(IpAddr::V4(a.into())));
            prop_assert_eq!(cidr.prefix(), p);
        }
    }
}
