//! The multipart MIME document cloud-init reads when user data has several parts.
//!
//! Each body is base64-encoded, so its bytes are carried exactly (a script keeps its line
//! endings, binary survives) and the boundary, which contains `.` and `_`, can never occur in it.

use std::fmt::Write as _;

use base64::Engine as _;

/// The boundary between parts; `.` and `_` are outside the base64 alphabet.
const BOUNDARY: &str = "gpucloud_bootstrap.part";

/// One part of the document.
pub(crate) struct Part<'a> {
    /// Its MIME type, which tells cloud-init how to handle it.
    pub(crate) content_type: &'static str,
    /// The name cloud-init gives it in its logs and on disk.
    pub(crate) filename: &'static str,
    /// The raw bytes.
    pub(crate) body: &'a [u8],
}

/// `parts` as one `multipart/mixed` document, in order.
pub(crate) fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut text = String::new();
    let _ = write!(
        text,
        "Content-Type: multipart/mixed; boundary=\"{BOUNDARY}\"\r\nMIME-Version: 1.0\r\n\r\n"
    );
    for part in parts {
        let _ = write!(
            text,
            "--{BOUNDARY}\r\n\
             Content-Type: {}; charset=\"utf-8\"\r\n\
             MIME-Version: 1.0\r\n\
             Content-Transfer-Encoding: base64\r\n\
             Content-Disposition: attachment; filename=\"{}\"\r\n\r\n",
            part.content_type, part.filename
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode(part.body);
        // RFC 2045 limits encoded lines to 76 characters.
        for line in encoded.as_bytes().chunks(76) {
            text.push_str(std::str::from_utf8(line).unwrap_or_default());
            text.push_str("\r\n");
        }
    }
    let _ = write!(text, "--{BOUNDARY}--\r\n");
    text.into_bytes()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Reads back a document written by [`multipart`]: (content type, decoded body) per part.
    pub(crate) fn parse(document: &[u8]) -> Vec<(String, Vec<u8>)> {
        let text = std::str::from_utf8(document).expect("ASCII document");
        let separator = format!("--{BOUNDARY}");
        let mut sections = text.split(&separator);
        let head = sections.next().unwrap();
        assert!(head.starts_with("Content-Type: multipart/mixed;"), "{head}");
        sections
            .take_while(|s| !s.starts_with("--"))
            .map(|section| {
                let (headers, body) = section.split_once("\r\n\r\n").expect("headers end");
                let content_type = headers
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Type: "))
                    .and_then(|v| v.split(';').next())
                    .expect("content type")
                    .to_owned();
                let body: String = body.split_whitespace().collect();
                let body = base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .expect("base64 body");
                (content_type, body)
            })
            .collect()
    }

    #[test]
    fn parts_round_trip_byte_for_byte_in_order() {
        let long = vec![b'x'; 500];
        let binary = [0u8, 255, 13, 10, 45, 45];
        let document = multipart(&[
            Part {
                content_type: "text/x-shellscript",
                filename: "a",
                body: &long,
            },
            Part {
                content_type: "text/cloud-config",
                filename: "b",
                body: &binary,
            },
        ]);
        let parts = parse(&document);
        assert_eq!(parts[0], ("text/x-shellscript".to_owned(), long));
        assert_eq!(parts[1], ("text/cloud-config".to_owned(), binary.to_vec()));
        let text = String::from_utf8(document).unwrap();
        assert!(text.lines().all(|l| l.len() <= 78), "line too long");
        assert!(text.trim_end().ends_with(&format!("--{BOUNDARY}--")));
    }
}
