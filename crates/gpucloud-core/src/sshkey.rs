//! SSH public keys: OpenSSH (ed25519, ecdsa, rsa, and their security-key variants) checked
//! structurally, and PEM RSA / Ed25519 public keys converted to OpenSSH.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// A checked public key in OpenSSH form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The algorithm, e.g. `ssh-ed25519`.
    pub algorithm: String,
    /// The key blob (the base64-decoded middle field).
    pub blob: Vec<u8>,
    /// The comment, possibly empty.
    pub comment: String,
}

impl PublicKey {
    /// The key as one OpenSSH `authorized_keys` line.
    pub fn to_openssh(&self) -> String {
        let encoded = STANDARD.encode(&self.blob);
        if self.comment.is_empty() {
            format!("{} {encoded}", self.algorithm)
        } else {
            format!("{} {encoded} {}", self.algorithm, self.comment)
        }
    }

    /// The key body as OpenSSH writes it (base64 of the blob), without type or comment.
    pub fn body_base64(&self) -> String {
        STANDARD.encode(&self.blob)
    }

    /// True when `other` is the same key: same algorithm and blob. Comments do not count, as
    /// providers rewrite or drop them.
    pub fn same_key(&self, other: &Self) -> bool {
        self.algorithm == other.algorithm && self.blob == other.blob
    }

    /// True when `text` (a key as a provider stores it, in any form [`parse_public_key`]
    /// reads) is the same key. Text that is not a key is never the same.
    pub fn same_key_text(&self, text: &str) -> bool {
        parse_public_key(text).is_ok_and(|other| self.same_key(&other))
    }

    /// OpenSSH's SHA-256 fingerprint (`SHA256:...`, unpadded base64).
    pub fn fingerprint_sha256(&self) -> String {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(&self.blob);
        format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
        )
    }
}

/// Parses a public key given in OpenSSH form or as a PEM block, checking its structure.
/// The error says what is wrong, for people.
pub fn parse_public_key(text: &str) -> Result<PublicKey, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(
            "is empty; give an OpenSSH public key such as the contents of ~/.ssh/id_ed25519.pub"
                .into(),
        );
    }
    if text.contains("PRIVATE KEY") {
        return Err("is a private key; give the public key (the .pub file) instead".into());
    }
    if text.starts_with("-----BEGIN") {
        return parse_pem(text);
    }
    parse_openssh(text)
}

fn parse_openssh(text: &str) -> Result<PublicKey, String> {
    if text.lines().count() > 1 {
        return Err("has more than one line; give exactly one public key".into());
    }
    let mut fields = text.split_whitespace();
    let algorithm = fields.next().unwrap_or_default();
    let Some(encoded) = fields.next() else {
        return Err("is not an OpenSSH public key: expected '<type> <base64> [comment]'".into());
    };
    let comment = fields.collect::<Vec<_>>().join(" ");
    let supported = [
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    ];
    if !supported.contains(&algorithm) {
        return Err(format!(
            "has unsupported key type {algorithm:?}; use ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa"
        ));
    }
    let blob = STANDARD
        .decode(encoded)
        .map_err(|_| "has a key body that is not valid base64".to_owned())?;
    let mut reader = Reader::new(&blob);
    let inner = reader.string().ok_or("has a truncated key body")?;
    if inner != algorithm.as_bytes() {
        return Err(format!(
            "says {algorithm} but its body holds a {} key",
            String::from_utf8_lossy(inner)
        ));
    }
    check_body(algorithm, &mut reader)?;
    if !reader.is_empty() {
        return Err("has trailing bytes after the key body".into());
    }
    Ok(PublicKey {
        algorithm: algorithm.to_owned(),
        blob,
        comment,
    })
}

fn check_body(algorithm: &str, reader: &mut Reader<'_>) -> Result<(), String> {
    match algorithm {
        "ssh-ed25519" => {
            let key = reader.string().ok_or("has a truncated ed25519 key")?;
            if key.len() != 32 {
                return Err(format!(
                    "has an ed25519 key of {} bytes; expected 32",
                    key.len()
                ));
            }
        }
        "sk-ssh-ed25519@openssh.com" => {
            let key = reader.string().ok_or("has a truncated ed25519 key")?;
            if key.len() != 32 {
                return Err(format!(
                    "has an ed25519 key of {} bytes; expected 32",
                    key.len()
                ));
            }
            reader.string().ok_or("has no security-key application")?;
        }
        "ssh-rsa" => {
            let _exponent = reader.string().ok_or("has a truncated RSA exponent")?;
            let modulus = reader.string().ok_or("has a truncated RSA modulus")?;
            let bits = mpint_bits(modulus);
            if bits < MIN_RSA_BITS {
                return Err(format!(
                    "is a {bits}-bit RSA key; at least {MIN_RSA_BITS} bits are required"
                ));
            }
        }
        ecdsa => {
            let curve = reader.string().ok_or("has a truncated curve name")?;
            let expected = ecdsa
                .trim_start_matches("sk-")
                .trim_end_matches("@openssh.com");
            let expected = expected.trim_start_matches("ecdsa-sha2-");
            if curve != expected.as_bytes() {
                return Err(format!(
                    "names curve {} but its type says {expected}",
                    String::from_utf8_lossy(curve)
                ));
            }
            let point = reader.string().ok_or("has a truncated curve point")?;
            if point.first() != Some(&4) {
                return Err("has an ECDSA point that is not uncompressed".into());
            }
            if ecdsa.starts_with("sk-") {
                reader.string().ok_or("has no security-key application")?;
            }
        }
    }
    Ok(())
}

fn mpint_bits(bytes: &[u8]) -> usize {
    let trimmed: &[u8] = {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        &bytes[start..]
    };
    match trimmed.first() {
        None => 0,
        Some(first) => trimmed.len() * 8 - first.leading_zeros() as usize,
    }
}

/// Reads SSH wire strings (u32 length + bytes).
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let (len, rest) = self.rest.split_first_chunk::<4>()?;
        let len = u32::from_be_bytes(*len) as usize;
        if rest.len() < len {
            return None;
        }
        let (value, rest) = rest.split_at(len);
        self.rest = rest;
        Some(value)
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

fn ssh_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn ssh_mpint(out: &mut Vec<u8>, unsigned_be: &[u8]) {
    let start = unsigned_be
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(unsigned_be.len());
    let digits = &unsigned_be[start..];
    if digits.first().is_some_and(|b| b & 0x80 != 0) {
        let mut padded = Vec::with_capacity(digits.len() + 1);
        padded.push(0);
        padded.extend_from_slice(digits);
        ssh_string(out, &padded);
    } else {
        ssh_string(out, digits);
    }
}

/// A DER element: tag and contents.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first & 0x80 == 0 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

fn parse_pem(text: &str) -> Result<PublicKey, String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let header = lines.next().unwrap_or_default();
    let label = header
        .strip_prefix("-----BEGIN ")
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or("has a malformed PEM header")?;
    let mut body = String::new();
    let mut ended = false;
    for line in lines {
        if line == format!("-----END {label}-----") {
            ended = true;
            break;
        }
        if line.contains(':') {
            continue;
        }
        body.push_str(line);
    }
    if !ended {
        return Err(format!("has no '-----END {label}-----' line"));
    }
    let der = STANDARD
        .decode(&body)
        .map_err(|_| "has a PEM body that is not valid base64".to_owned())?;
    match label {
        "RSA PUBLIC KEY" => rsa_from_pkcs1(&der),
        "PUBLIC KEY" => from_spki(&der),
        other => Err(format!(
            "is a PEM {other:?} block; expected PUBLIC KEY or RSA PUBLIC KEY"
        )),
    }
}

fn rsa_from_pkcs1(der: &[u8]) -> Result<PublicKey, String> {
    let bad = || "has a malformed RSA public key".to_owned();
    let (tag, seq, _) = der_element(der).ok_or_else(bad)?;
    if tag != 0x30 {
        return Err(bad());
    }
    let (tag_n, modulus, rest) = der_element(seq).ok_or_else(bad)?;
    let (tag_e, exponent, _) = der_element(rest).ok_or_else(bad)?;
    if tag_n != 0x02 || tag_e != 0x02 {
        return Err(bad());
    }
    let bits = mpint_bits(modulus);
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "is a {bits}-bit RSA key; at least {MIN_RSA_BITS} bits are required"
        ));
    }
    let mut blob = Vec::new();
    ssh_string(&mut blob, b"ssh-rsa");
    ssh_mpint(&mut blob, exponent);
    ssh_mpint(&mut blob, modulus);
    Ok(PublicKey {
        algorithm: "ssh-rsa".into(),
        blob,
        comment: String::new(),
    })
}

fn from_spki(der: &[u8]) -> Result<PublicKey, String> {
    let bad = || "has a malformed SubjectPublicKeyInfo".to_owned();
    let (tag, spki, _) = der_element(der).ok_or_else(bad)?;
    if tag != 0x30 {
        return Err(bad());
    }
    let (tag_alg, algorithm, rest) = der_element(spki).ok_or_else(bad)?;
    let (tag_bits, bit_string, _) = der_element(rest).ok_or_else(bad)?;
    if tag_alg != 0x30 || tag_bits != 0x03 || bit_string.first() != Some(&0) {
        return Err(bad());
    }
    let key = &bit_string[1..];
    let (tag_oid, oid, _) = der_element(algorithm).ok_or_else(bad)?;
    if tag_oid != 0x06 {
        return Err(bad());
    }
    if oid == OID_RSA {
        return rsa_from_pkcs1(key);
    }
    if oid == OID_ED25519 {
        if key.len() != 32 {
            return Err(format!(
                "has an ed25519 key of {} bytes; expected 32",
                key.len()
            ));
        }
        let mut blob = Vec::new();
        ssh_string(&mut blob, b"ssh-ed25519");
        ssh_string(&mut blob, key);
        return Ok(PublicKey {
            algorithm: "ssh-ed25519".into(),
            blob,
            comment: String::new(),
        });
    }
    Err("is a PEM public key of an unsupported algorithm; use RSA or Ed25519".into())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An ed25519 key generated with ssh-keygen for these tests.
    pub const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOu3o9AyeQeAgLrWm4iW8YTloO1TYKxHj8ZxO7xuEni5 test@gpucloud";

    /// Builds a PEM block around DER.
    fn pem(label: &str, der: &[u8]) -> String {
        let body = STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if content.len() < 128 {
            out.push(content.len() as u8);
        } else if content.len() < 256 {
            out.extend_from_slice(&[0x81, content.len() as u8]);
        } else {
            out.extend_from_slice(&[0x82, (content.len() >> 8) as u8, content.len() as u8]);
        }
        out.extend_from_slice(content);
        out
    }

    pub(crate) fn rsa_pkcs1(bits: usize) -> Vec<u8> {
        let mut modulus = vec![0u8; 1];
        modulus.push(0xc5);
        modulus.extend(std::iter::repeat_n(0x3b, bits / 8 - 1));
        let n = der(0x02, &modulus);
        let e = der(0x02, &[0x01, 0x00, 0x01]);
        der(0x30, &[n, e].concat())
    }

    pub(crate) fn rsa_spki_pem(bits: usize) -> String {
        let algorithm = der(0x30, &[der(0x06, OID_RSA), vec![0x05, 0x00]].concat());
        let mut bit_string = vec![0u8];
        bit_string.extend(rsa_pkcs1(bits));
        pem(
            "PUBLIC KEY",
            &der(0x30, &[algorithm, der(0x03, &bit_string)].concat()),
        )
    }

    #[test]
    fn openssh_ed25519_round_trips() {
        let key = parse_public_key(ED25519).unwrap();
        assert_eq!(key.algorithm, "ssh-ed25519");
        assert_eq!(key.comment, "test@gpucloud");
        assert_eq!(key.to_openssh(), ED25519);
        assert!(key.fingerprint_sha256().starts_with("SHA256:"));
    }

    #[test]
    fn keys_compare_by_algorithm_and_blob() {
        let key = parse_public_key(ED25519).unwrap();
        let body = key.body_base64();
        assert!(key.same_key_text(&format!("ssh-ed25519 {body} other comment")));
        assert!(key.same_key_text(&format!("ssh-ed25519 {body}")));
        assert!(!key.same_key_text("ssh-ed25519 AAAAC3Ny"));
        assert!(!key.same_key_text(""));
        let pem = parse_public_key(&rsa_spki_pem(2048)).unwrap();
        assert!(!key.same_key(&pem));
        assert!(pem.same_key_text(&pem.to_openssh()));
    }

    #[test]
    fn pem_rsa_is_converted_to_openssh_and_back_through_the_parser() {
        for pem_text in [rsa_spki_pem(2048), pem("RSA PUBLIC KEY", &rsa_pkcs1(3072))] {
            let key = parse_public_key(&pem_text).unwrap();
            assert_eq!(key.algorithm, "ssh-rsa");
            let again = parse_public_key(&key.to_openssh()).unwrap();
            assert_eq!(again.blob, key.blob);
        }
    }

    #[test]
    fn pem_ed25519_is_converted() {
        let algorithm = der(0x30, &der(0x06, OID_ED25519));
        let mut bits = vec![0u8];
        bits.extend([7u8; 32]);
        let text = pem(
            "PUBLIC KEY",
            &der(0x30, &[algorithm, der(0x03, &bits)].concat()),
        );
        let key = parse_public_key(&text).unwrap();
        assert_eq!(key.algorithm, "ssh-ed25519");
        assert!(parse_public_key(&key.to_openssh()).is_ok());
    }

    #[test]
    fn rejects_with_reasons() {
        let cases = [
            ("", "is empty"),
            ("ssh-ed25519", "expected '<type> <base64>"),
            ("ssh-dss AAAAB3NzaC1kc3MAAACBAP", "unsupported key type"),
            ("ssh-ed25519 !!!notbase64", "not valid base64"),
            (
                "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOu3o9AyeQeAgLrWm4iW8YTloO1TYKxHj8ZxO7xuEni5",
                "body holds a ssh-ed25519 key",
            ),
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----",
                "private key",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
                "CERTIFICATE",
            ),
            ("-----BEGIN PUBLIC KEY-----\nMIIB", "no '-----END"),
        ];
        for (input, expected) in cases {
            let err = parse_public_key(input).unwrap_err();
            assert!(err.contains(expected), "{input:?}: {err}");
        }
        let weak = rsa_spki_pem(1024);
        assert!(parse_public_key(&weak).unwrap_err().contains("1024-bit"));
    }
}
