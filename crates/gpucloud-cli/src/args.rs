//! Parsers for flag values. Each returns a message that names what is wrong; clap adds the
//! flag name and exits with status 2.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use gpucloud::{FirewallRule, Protocol};
use rust_decimal::Decimal;

/// A `key=value` tag.
pub type Tag = (String, String);

/// Parses `--open-port PORT[-PORT][/tcp|/udp][@CIDR]`.
pub fn parse_open_port(text: &str) -> Result<FirewallRule, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("expected PORT or FROM-TO, optionally /tcp or /udp, optionally @CIDR, e.g. 8000-8100/tcp@10.0.0.0/8".into());
    }
    let (ports_proto, cidr) = match text.split_once('@') {
        Some((left, cidr)) => (left, Some(parse_cidr(cidr)?)),
        None => (text, None),
    };
    let (ports, protocol) = match ports_proto.split_once('/') {
        Some((ports, proto)) => {
            let protocol = match proto.to_ascii_lowercase().as_str() {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                other => {
                    return Err(format!(
                        "unknown protocol `{other}`; use /tcp or /udp (or neither for both)"
                    ));
                }
            };
            (ports, Some(protocol))
        }
        None => (ports_proto, None),
    };
    let (from, to) = if let Some((from, to)) = ports.split_once('-') {
        (parse_port(from)?, parse_port(to)?)
    } else {
        let port = parse_port(ports)?;
        (port, port)
    };
    if from > to {
        return Err(format!(
            "port range {from}-{to} is reversed; write {to}-{from}"
        ));
    }
    let mut rule = FirewallRule::range(from, to, cidr.into_iter().collect());
    rule.protocol = protocol;
    Ok(rule)
}

fn parse_port(text: &str) -> Result<u16, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("missing port number; ports are 1-65535".into());
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not a port number; ports are 1-65535"));
    }
    match text.parse::<u32>() {
        Ok(0) => Err("port 0 is not a usable port; ports are 1-65535".into()),
        Ok(p) if p <= 65535 => Ok(p as u16),
        _ => Err(format!("port {text} is out of range; ports are 1-65535")),
    }
}

/// Parses an IPv4 or IPv6 CIDR (a bare address means that one address) whose host bits are zero.
pub fn parse_cidr(text: &str) -> Result<String, String> {
    let text = text.trim();
    let (addr, prefix) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    let ip = IpAddr::from_str(addr).map_err(|_| {
        format!("`{text}` is not a CIDR: `{addr}` is not an IP address (expected e.g. 203.0.113.0/24 or 2001:db8::/32)")
    })?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if u32::from(n) <= max => u32::from(n),
            _ => {
                return Err(format!(
                    "`{text}` is not a CIDR: the prefix length must be 0-{max}"
                ));
            }
        },
    };
    let host_bits_set = match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            (bits & !mask != 0).then(|| std::net::Ipv4Addr::from(bits & mask).to_string())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            (bits & !mask != 0).then(|| std::net::Ipv6Addr::from(bits & mask).to_string())
        }
    };
    if let Some(network) = host_bits_set {
        return Err(format!(
            "`{text}` has host bits set; did you mean {network}/{prefix}?"
        ));
    }
    Ok(format!("{ip}/{prefix}"))
}

fn check_tag_key(key: &str, text: &str) -> Result<(), String> {
    if key.trim().is_empty() {
        return Err(format!("`{text}` has an empty key; expected KEY=VALUE"));
    }
    if key.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "tag key `{key}` contains whitespace or control characters"
        ));
    }
    Ok(())
}

/// Parses `--tag KEY=VALUE`.
pub fn parse_tag(text: &str) -> Result<Tag, String> {
    let Some((key, value)) = text.split_once('=') else {
        return Err(format!("`{text}` is not a tag; expected KEY=VALUE"));
    };
    check_tag_key(key, text)?;
    if value.chars().any(char::is_control) {
        return Err(format!(
            "the value of tag `{key}` contains control characters"
        ));
    }
    Ok((key.to_owned(), value.to_owned()))
}

/// Parses a tag filter: `KEY=VALUE`, or `KEY` for any value.
pub fn parse_tag_filter(text: &str) -> Result<(String, Option<String>), String> {
    if text.contains('=') {
        parse_tag(text).map(|(k, v)| (k, Some(v)))
    } else {
        check_tag_key(text, text)?;
        Ok((text.to_owned(), None))
    }
}

/// Parses a non-negative US dollar amount (`2.5`, `$2.50`).
pub fn parse_usd(text: &str) -> Result<Decimal, String> {
    const ACCEPTED: &str = "expected an amount in US dollars of 0 or more, e.g. 2.50";
    let trimmed = text.trim().trim_start_matches('$');
    let amount =
        Decimal::from_str(trimmed).map_err(|_| format!("`{text}` is not a number; {ACCEPTED}"))?;
    if amount.is_sign_negative() {
        return Err(format!("`{text}` is negative; {ACCEPTED}"));
    }
    Ok(amount)
}

/// Parses a whole number from `min` to `max` (no upper bound without `max`). An error is one
/// sentence: the value, what is wrong with it, then `accepted` (what the flag takes).
fn parse_whole_in<T>(text: &str, min: T, max: Option<T>, accepted: &str) -> Result<T, String>
where
    T: FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let trimmed = text.trim();
    match trimmed.parse::<T>() {
        Ok(value) if value < min || max.is_some_and(|max| value > max) => {
            Err(format!("{value} is out of range; {accepted}"))
        }
        Ok(value) => Ok(value),
        // Only digits, yet no `T`: more than any accepted value.
        Err(_) if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) => {
            Err(format!("{trimmed} is out of range; {accepted}"))
        }
        Err(_) => Err(format!("`{text}` is not a whole number; {accepted}")),
    }
}

/// Parses a whole number from `min` to `max`, the errors saying which numbers are accepted.
fn parse_whole<T>(text: &str, min: T, max: Option<T>) -> Result<T, String>
where
    T: FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let accepted = match max {
        Some(max) => format!("expected a whole number from {min} to {max}"),
        None => format!("expected a whole number of at least {min}"),
    };
    parse_whole_in(text, min, max, &accepted)
}

/// Parses a count of at least 1 (`--gpus`, `--min-gpus`).
pub fn parse_count(text: &str) -> Result<u32, String> {
    parse_whole(text, 1, None)
}

/// The longest duration a flag takes: 30 days.
pub const MAX_SECS: u64 = 30 * 24 * 60 * 60;

/// Parses a duration in whole seconds that can be met (`--timeout`, `--deadline`,
/// `--retry-interval`, `--retry-deadline`, `--connect-timeout`): at least 1, since 0 could
/// never be met, and at most [`MAX_SECS`].
pub fn parse_secs(text: &str) -> Result<u64, String> {
    parse_whole_in(
        text,
        1,
        Some(MAX_SECS),
        &format!("expected whole seconds from 1 to {MAX_SECS} (30 days)"),
    )
}

/// Parses a number of milliseconds, 0 or more (`--latency-ms`, `--boot-ms`).
pub fn parse_millis(text: &str) -> Result<u64, String> {
    parse_whole(text, 0, None)
}

/// Parses `--max-offers`: 1 to 100.
pub fn parse_max_offers(text: &str) -> Result<u32, String> {
    parse_whole(text, 1, Some(100))
}

/// A `--gpu` value: the model and count, and the memory per GPU when the form names it
/// (`A100-80GB`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuArg {
    /// The normalized model and the exact count, when given.
    pub request: gpucloud::offers::GpuRequest,
    /// The memory per GPU the name carries.
    pub vram: Option<gpucloud::Bytes>,
}

/// Parses `--gpu` in the forms people type: `H100`, `h-100`, `H100:8`, `8xH100`, `8x H100`,
/// `A100-80GB` (A100 with 80 GB), `RTX4090`.
pub fn parse_gpu(text: &str) -> Result<GpuArg, String> {
    const ACCEPTED: &str = "expected MODEL or MODEL:COUNT, e.g. H100, H100:8, 8xH100 or A100-80GB";
    let trimmed = text.trim();
    // `8xH100`, `8x H100`, `8 x H100`: a count, then `x`, then the model.
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    let after_digits = trimmed[digits..].trim_start();
    let (leading_count, rest) = match after_digits.strip_prefix(['x', 'X']) {
        Some(model) if digits > 0 && !model.trim().is_empty() => {
            let count = parse_count(&trimmed[..digits]).map_err(|_| {
                format!("`{text}`: the count before `x` must be at least 1; {ACCEPTED}")
            })?;
            (Some(count), model.trim())
        }
        _ => (None, trimmed),
    };
    let mut request = rest
        .parse::<gpucloud::offers::GpuRequest>()
        .map_err(|e| match e {
            gpucloud::CloudError::InvalidArgument { problem, .. } => {
                format!("{problem}; {ACCEPTED}")
            }
            other => other.to_string(),
        })?;
    if let Some(count) = leading_count {
        if request.count.is_some() {
            return Err(format!("`{text}` gives the count twice; {ACCEPTED}"));
        }
        request.count = Some(count);
    }
    let model_part = rest.split(':').next().unwrap_or(rest);
    let vram = model_part.split(['-', '_', ' ']).find_map(parse_gb_word);
    Ok(GpuArg { request, vram })
}

/// `80GB` or `80G` in a GPU name: the GPU's memory.
fn parse_gb_word(word: &str) -> Option<gpucloud::Bytes> {
    let upper = word
        .trim_matches(|c| c == '(' || c == ')')
        .to_ascii_uppercase();
    let number = upper
        .strip_suffix("GB")
        .or_else(|| upper.strip_suffix('G'))?;
    let value: i64 = number.parse().ok().filter(|n| *n > 0)?;
    Some(gpucloud::Bytes::new(value, gpucloud::BytesUnit::GB))
}

/// Parses a byte size, a whole number with an optional case-insensitive unit: `80GB`, `80G`,
/// `80` (GB), `24GiB`, `24Gi`, `512MB`, `2TB`.
pub fn parse_bytes(text: &str) -> Result<gpucloud::Bytes, String> {
    use gpucloud::BytesUnit;
    let accepted = "expected a whole size such as 80GB, 80G, 80 (GB) or 24GiB";
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let value: i64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size; {accepted}"))?;
    let unit = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "G" | "GB" => BytesUnit::GB,
        "M" | "MB" => BytesUnit::MB,
        "T" | "TB" => BytesUnit::TB,
        "MI" | "MIB" => BytesUnit::MiB,
        "GI" | "GIB" => BytesUnit::GiB,
        "TI" | "TIB" => BytesUnit::TiB,
        other => {
            return Err(format!("`{text}`: unknown unit `{other}`; {accepted}"));
        }
    };
    Ok(gpucloud::Bytes::new(value, unit))
}

/// Parses a socket address on a loopback interface.
pub fn parse_loopback_addr(text: &str) -> Result<SocketAddr, String> {
    let addr = SocketAddr::from_str(text.trim())
        .map_err(|_| format!("`{text}` is not an address such as 127.0.0.1:8080"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "`{text}` is not a loopback address; the fake only listens on 127.0.0.1 or ::1"
        ));
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_port_forms() {
        let r = parse_open_port("22").unwrap();
        assert_eq!(
            (r.from_port, r.to_port, r.protocol, r.ip_ranges.len()),
            (22, 22, None, 0)
        );
        let r = parse_open_port("8000-8100/udp@10.0.0.0/8").unwrap();
        assert_eq!(
            (r.from_port, r.to_port, r.protocol),
            (8000, 8100, Some(Protocol::Udp))
        );
        assert_eq!(r.ip_ranges, vec!["10.0.0.0/8".to_owned()]);
        let r = parse_open_port("443/TCP@203.0.113.7").unwrap();
        assert_eq!(r.ip_ranges, vec!["203.0.113.7/32".to_owned()]);
        assert_eq!(
            parse_open_port("80@2001:db8::/32").unwrap().ip_ranges,
            vec!["2001:db8::/32".to_owned()]
        );
    }

    #[test]
    fn open_port_errors_name_the_problem() {
        assert!(parse_open_port("0").unwrap_err().contains("port 0"));
        assert!(parse_open_port("70000").unwrap_err().contains("70000"));
        assert!(parse_open_port("200-100").unwrap_err().contains("reversed"));
        assert!(parse_open_port("80/sctp").unwrap_err().contains("sctp"));
        assert!(
            parse_open_port("80@10.0.0.1/8")
                .unwrap_err()
                .contains("10.0.0.0/8")
        );
        assert!(
            parse_open_port("80@10.0.0.0/33")
                .unwrap_err()
                .contains("prefix")
        );
        assert!(
            parse_open_port("80@nope")
                .unwrap_err()
                .contains("not an IP")
        );
        assert!(parse_open_port("http").unwrap_err().contains("not a port"));
        assert!(parse_open_port("").is_err());
        assert!(parse_open_port("-5").is_err());
    }

    #[test]
    fn tags() {
        assert_eq!(parse_tag("team=ml").unwrap(), ("team".into(), "ml".into()));
        assert_eq!(parse_tag("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_tag("team").unwrap_err().contains("KEY=VALUE"));
        assert!(parse_tag("=x").unwrap_err().contains("empty key"));
        assert_eq!(parse_tag_filter("team").unwrap(), ("team".into(), None));
        assert_eq!(
            parse_tag_filter("team=ml").unwrap(),
            ("team".into(), Some("ml".into()))
        );
    }

    #[test]
    fn durations_that_cannot_be_met_are_refused() {
        assert_eq!(parse_secs("90").unwrap(), 90);
        assert_eq!(parse_secs(&MAX_SECS.to_string()).unwrap(), MAX_SECS);
        assert_eq!(
            parse_secs("0").unwrap_err(),
            "0 is out of range; expected whole seconds from 1 to 2592000 (30 days)"
        );
        assert!(
            parse_secs("-1")
                .unwrap_err()
                .contains("`-1` is not a whole number")
        );
        assert!(
            parse_secs("1h")
                .unwrap_err()
                .contains("`1h` is not a whole number")
        );
        assert!(
            parse_secs("18446744073709551615")
                .unwrap_err()
                .contains("30 days")
        );
        assert!(
            parse_secs("99999999999999999999999")
                .unwrap_err()
                .contains("30 days")
        );
    }

    #[test]
    fn numbers_say_what_is_accepted() {
        assert_eq!(parse_count("8").unwrap(), 8);
        assert_eq!(
            parse_count("0").unwrap_err(),
            "0 is out of range; expected a whole number of at least 1"
        );
        assert!(
            parse_count("eight")
                .unwrap_err()
                .contains("`eight` is not a whole number")
        );
        assert_eq!(parse_max_offers("100").unwrap(), 100);
        assert!(
            parse_max_offers("101")
                .unwrap_err()
                .contains("from 1 to 100")
        );
        assert!(
            parse_count("99999999999")
                .unwrap_err()
                .starts_with("99999999999 is out of range")
        );
        assert_eq!(parse_millis("0").unwrap(), 0);
        assert!(parse_millis("-1").unwrap_err().contains("at least 0"));
    }

    #[test]
    fn gpu_forms() {
        let gpu = |text: &str| {
            let arg = parse_gpu(text).unwrap();
            (arg.request.to_string(), arg.vram.map(|v| v.to_string()))
        };
        assert_eq!(gpu("H100"), ("H100".into(), None));
        assert_eq!(gpu("h-100"), ("H100".into(), None));
        assert_eq!(gpu("H100:8"), ("H100:8".into(), None));
        assert_eq!(gpu("8xH100"), ("H100:8".into(), None));
        assert_eq!(gpu("8x h100"), ("H100:8".into(), None));
        assert_eq!(gpu("A100-80GB"), ("A100".into(), Some("80 GB".into())));
        assert_eq!(gpu("A100-80G:4"), ("A100:4".into(), Some("80 GB".into())));
        assert_eq!(gpu("RTX4090"), ("RTX 4090".into(), None));
        assert!(parse_gpu("8xH100:8").unwrap_err().contains("count twice"));
        assert!(parse_gpu("0xH100").unwrap_err().contains("at least 1"));
        assert!(parse_gpu("H100:eight").unwrap_err().contains("H100:8"));
        assert!(parse_gpu("").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("80GB").unwrap().to_string(), "80 GB");
        assert_eq!(parse_bytes("80G").unwrap().to_string(), "80 GB");
        assert_eq!(parse_bytes("80").unwrap().to_string(), "80 GB");
        assert_eq!(parse_bytes("24gib").unwrap().to_string(), "24 GiB");
        assert!(parse_bytes("80Q").unwrap_err().contains("unknown unit `Q`"));
        assert!(parse_bytes("big").unwrap_err().contains("80GB"));
    }

    #[test]
    fn usd_and_addr() {
        assert_eq!(parse_usd("$2.50").unwrap().to_string(), "2.50");
        assert!(parse_usd("-1").unwrap_err().contains("`-1` is negative"));
        assert!(parse_usd("cheap").is_err());
        assert!(parse_loopback_addr("127.0.0.1:0").is_ok());
        assert!(
            parse_loopback_addr("0.0.0.0:80")
                .unwrap_err()
                .contains("loopback")
        );
    }
}
