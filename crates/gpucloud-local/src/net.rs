//! IPv4 subnets, the route-overlap check and address allocation.

use std::fmt;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use serde_json::Value;

/// An IPv4 network: a network address with no host bits set, and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ipv4Net {
    network: u32,
    prefix: u8,
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

/// Private ranges an instance subnet may come from.
const PRIVATE_RANGES: [(&str, Ipv4Net); 5] = [
    (
        "RFC 1918",
        Ipv4Net {
            network: 0x0a00_0000,
            prefix: 8,
        },
    ),
    (
        "RFC 1918",
        Ipv4Net {
            network: 0xac10_0000,
            prefix: 12,
        },
    ),
    (
        "RFC 1918",
        Ipv4Net {
            network: 0xc0a8_0000,
            prefix: 16,
        },
    ),
    (
        "RFC 6598",
        Ipv4Net {
            network: 0x6440_0000,
            prefix: 10,
        },
    ),
    (
        "RFC 2544",
        Ipv4Net {
            network: 0xc612_0000,
            prefix: 15,
        },
    ),
];

impl Ipv4Net {
    /// The network containing `addr` with `prefix` bits.
    pub(crate) fn containing(addr: Ipv4Addr, prefix: u8) -> Self {
        let prefix = prefix.min(32);
        Self {
            network: u32::from(addr) & mask(prefix),
            prefix,
        }
    }

    /// Parses an instance subnet: `a.b.c.d/n` with no host bits, `n` in 8..=30, inside a
    /// private range.
    pub(crate) fn parse_subnet(text: &str) -> Result<Self, String> {
        let (addr, prefix) = text.trim().split_once('/').ok_or_else(|| {
            format!("{text:?} is not a CIDR such as 10.213.0.0/24 (the /prefix is missing)")
        })?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an IPv4 CIDR such as 10.213.0.0/24"))?;
        let prefix: u8 = prefix.parse().map_err(|_| {
            format!("{text:?} has prefix length {prefix:?}; expected a number from 8 to 30")
        })?;
        if !(8..=30).contains(&prefix) {
            return Err(format!(
                "{text:?} has prefix length {prefix}; expected 8 to 30 (the host takes one address and each instance one)"
            ));
        }
        let net = Self::containing(addr, prefix);
        if u32::from(addr) != net.network {
            return Err(format!("{text:?} has host bits set; did you mean {net}?"));
        }
        if !PRIVATE_RANGES
            .iter()
            .any(|(_, range)| range.contains_net(net))
        {
            return Err(format!(
                "{text:?} is not inside a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, \
                 100.64.0.0/10 or 198.18.0.0/15); a public range would hide those internet addresses from this machine"
            ));
        }
        Ok(net)
    }

    /// The prefix length.
    pub(crate) fn prefix(self) -> u8 {
        self.prefix
    }

    /// True when `addr` is inside this network.
    pub(crate) fn contains(self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & mask(self.prefix) == self.network
    }

    fn contains_net(self, other: Self) -> bool {
        other.prefix >= self.prefix && self.contains(Ipv4Addr::from(other.network))
    }

    /// True when the two networks share any address.
    pub(crate) fn overlaps(self, other: Self) -> bool {
        self.contains_net(other) || other.contains_net(self)
    }

    /// The host's address on the bridge: the first address of the subnet.
    pub(crate) fn host_address(self) -> Ipv4Addr {
        Ipv4Addr::from(self.network + 1)
    }

    /// The addresses instances may take: all but the network, host and broadcast addresses.
    pub(crate) fn instance_addresses(self) -> impl Iterator<Item = Ipv4Addr> + use<> {
        let last = self.network | !mask(self.prefix);
        (self.network + 2..last).map(Ipv4Addr::from)
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.prefix)
    }
}

/// The lowest instance address of `subnet` not in `used`.
pub(crate) fn allocate(subnet: Ipv4Net, used: &[Ipv4Addr]) -> Option<Ipv4Addr> {
    subnet.instance_addresses().find(|a| !used.contains(a))
}

/// Something on this machine that already claims IPv4 addresses: a route or an interface
/// address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Claim {
    /// The claimed network.
    pub(crate) net: Ipv4Net,
    /// For people: `route 10.0.0.0/8 dev eth0 (table main)`.
    pub(crate) description: String,
    /// The interface, when known.
    pub(crate) dev: Option<String>,
}

fn parse_dst(dst: &str) -> Option<Ipv4Net> {
    let (addr, prefix) = match dst.split_once('/') {
        Some((a, p)) => (a, p.parse().ok()?),
        None => (dst, 32),
    };
    Some(Ipv4Net::containing(addr.parse().ok()?, prefix))
}

/// Claims from the JSON of `ip -j -4 route show table all`. Default routes claim nothing.
pub(crate) fn routes_from_json(json: &str) -> Result<Vec<Claim>, String> {
    let entries: Vec<Value> =
        serde_json::from_str(json).map_err(|e| format!("unreadable `ip -j route` output: {e}"))?;
    let mut claims = Vec::new();
    for entry in &entries {
        let Some(dst) = entry.get("dst").and_then(Value::as_str) else {
            continue;
        };
        if dst == "default" {
            continue;
        }
        let Some(net) = parse_dst(dst) else { continue };
        if net.prefix == 0 {
            continue;
        }
        let dev = entry.get("dev").and_then(Value::as_str).map(str::to_owned);
        let table = entry.get("table").and_then(Value::as_str).unwrap_or("main");
        let kind = entry
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("unicast");
        let mut description = format!("{kind} route {dst}");
        if let Some(dev) = &dev {
            let _ = write!(description, " dev {dev}");
        }
        let _ = write!(description, " (table {table})");
        claims.push(Claim {
            net,
            description,
            dev,
        });
    }
    Ok(claims)
}

/// Claims from the JSON of `ip -j -4 addr show`: each address's network.
pub(crate) fn addresses_from_json(json: &str) -> Result<Vec<Claim>, String> {
    let links: Vec<Value> =
        serde_json::from_str(json).map_err(|e| format!("unreadable `ip -j addr` output: {e}"))?;
    let mut claims = Vec::new();
    for link in &links {
        let dev = link
            .get("ifname")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let Some(infos) = link.get("addr_info").and_then(Value::as_array) else {
            continue;
        };
        for info in infos {
            if info
                .get("family")
                .and_then(Value::as_str)
                .is_some_and(|f| f != "inet")
            {
                continue;
            }
            let Some(local) = info.get("local").and_then(Value::as_str) else {
                continue;
            };
            let Ok(addr) = local.parse::<Ipv4Addr>() else {
                continue;
            };
            let prefix = info
                .get("prefixlen")
                .and_then(Value::as_u64)
                .and_then(|p| u8::try_from(p).ok())
                .unwrap_or(32);
            let net = Ipv4Net::containing(addr, prefix);
            let description = format!(
                "address {local}/{prefix} on {}",
                dev.as_deref().unwrap_or("an unnamed interface")
            );
            claims.push(Claim {
                net,
                description,
                dev: dev.clone(),
            });
        }
    }
    Ok(claims)
}

/// The first claim that overlaps `subnet`, ignoring claims on the interface `own_dev`.
pub(crate) fn first_overlap<'a>(
    subnet: Ipv4Net,
    claims: &'a [Claim],
    own_dev: &str,
) -> Option<&'a Claim> {
    claims
        .iter()
        .filter(|c| c.dev.as_deref() != Some(own_dev))
        .find(|c| c.net.overlaps(subnet))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_parsing() {
        let net = Ipv4Net::parse_subnet("10.213.0.0/24").unwrap();
        assert_eq!(net.to_string(), "10.213.0.0/24");
        assert_eq!(net.host_address(), Ipv4Addr::new(10, 213, 0, 1));
        assert_eq!(
            net.instance_addresses().next(),
            Some(Ipv4Addr::new(10, 213, 0, 2))
        );
        assert_eq!(
            net.instance_addresses().last(),
            Some(Ipv4Addr::new(10, 213, 0, 254))
        );
        assert_eq!(net.instance_addresses().count(), 253);
        let err = Ipv4Net::parse_subnet("10.213.0.5/24").unwrap_err();
        assert!(err.contains("did you mean 10.213.0.0/24"), "{err}");
        assert!(
            Ipv4Net::parse_subnet("10.213.0.0")
                .unwrap_err()
                .contains("prefix is missing")
        );
        assert!(
            Ipv4Net::parse_subnet("10.213.0.0/31")
                .unwrap_err()
                .contains("8 to 30")
        );
        assert!(
            Ipv4Net::parse_subnet("8.8.8.0/24")
                .unwrap_err()
                .contains("private range")
        );
        assert!(Ipv4Net::parse_subnet("fd00::/64").is_err());
        assert!(Ipv4Net::parse_subnet("198.18.4.0/24").is_ok());
        assert!(Ipv4Net::parse_subnet("100.64.0.0/10").is_ok());
        let small = Ipv4Net::parse_subnet("192.168.7.0/30").unwrap();
        assert_eq!(
            small.instance_addresses().collect::<Vec<_>>(),
            vec![Ipv4Addr::new(192, 168, 7, 2)]
        );
    }

    #[test]
    fn overlap_and_allocation() {
        let a = Ipv4Net::parse_subnet("10.213.0.0/24").unwrap();
        let wide = Ipv4Net::containing(Ipv4Addr::new(10, 0, 0, 0), 8);
        let other = Ipv4Net::containing(Ipv4Addr::new(10, 214, 0, 0), 24);
        assert!(a.overlaps(wide) && wide.overlaps(a));
        assert!(!a.overlaps(other));
        let used = [Ipv4Addr::new(10, 213, 0, 2), Ipv4Addr::new(10, 213, 0, 4)];
        assert_eq!(allocate(a, &used), Some(Ipv4Addr::new(10, 213, 0, 3)));
        let tiny = Ipv4Net::parse_subnet("10.9.9.0/30").unwrap();
        assert_eq!(allocate(tiny, &[Ipv4Addr::new(10, 9, 9, 2)]), None);
    }

    #[test]
    fn route_and_address_claims() {
        let routes = r#"[{"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]},
            {"dst":"192.0.2.0/24","dev":"eth0","protocol":"kernel","scope":"link","flags":[]},
            {"type":"local","dst":"127.0.0.1","dev":"lo","table":"local","flags":[]},
            {"dst":"10.213.0.0/24","dev":"gbown","flags":[]},
            {"weird":true}]"#;
        let claims = routes_from_json(routes).unwrap();
        assert_eq!(claims.len(), 3);
        assert_eq!(
            claims[0].description,
            "unicast route 192.0.2.0/24 dev eth0 (table main)"
        );
        assert_eq!(
            claims[1].description,
            "local route 127.0.0.1 dev lo (table local)"
        );
        let subnet = Ipv4Net::parse_subnet("10.213.0.0/24").unwrap();
        assert!(first_overlap(subnet, &claims, "gbown").is_none());
        assert!(first_overlap(subnet, &claims, "other").is_some());
        let inside = Ipv4Net::parse_subnet("192.0.2.0/24");
        assert!(
            inside.is_err(),
            "192.0.2.0/24 is documentation space, not private"
        );

        let addrs = r#"[{"ifname":"eth0","addr_info":[{"family":"inet","local":"10.213.0.9","prefixlen":16}]},
            {"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]}]"#;
        let claims = addresses_from_json(addrs).unwrap();
        let hit = first_overlap(subnet, &claims, "gbown").unwrap();
        assert_eq!(hit.description, "address 10.213.0.9/16 on eth0");
        assert!(routes_from_json("not json").is_err());
    }
}
