//! Helpers shared by the tests: reading back a multipart document, quoting for a shell.

use base64::Engine as _;

/// The parts of `document` as (content type, decoded body); a document that is not multipart
/// is one part of its own kind.
pub fn parts(document: &[u8]) -> Vec<(String, Vec<u8>)> {
    let text = std::str::from_utf8(document).expect("user data is ASCII");
    let Some(rest) = text.strip_prefix("Content-Type: multipart/mixed; boundary=\"") else {
        assert!(
            text.starts_with("#cloud-config\n"),
            "neither MIME nor cloud-config"
        );
        return vec![("text/cloud-config".to_owned(), document.to_vec())];
    };
    let boundary = &rest[..rest.find('"').expect("boundary ends")];
    text.split(&format!("--{boundary}"))
        .skip(1)
        .take_while(|s| !s.starts_with("--"))
        .map(|section| {
            let (headers, body) = section.split_once("\r\n\r\n").expect("part headers end");
            let content_type = headers
                .lines()
                .find_map(|l| l.strip_prefix("Content-Type: "))
                .and_then(|v| v.split(';').next())
                .expect("part content type")
                .to_owned();
            let body: String = body.split_whitespace().collect();
            let body = base64::engine::general_purpose::STANDARD
                .decode(body)
                .expect("base64 part");
            (content_type, body)
        })
        .collect()
}

/// `text` as one single-quoted POSIX shell word.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}
