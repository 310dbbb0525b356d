//! The access token outlives the process: a credential made after another on the same state
//! directory (as the next command is) starts from the token the first one saved; a saved token
//! the API rejects is replaced once and the file rewritten; a file that is not private or
//! does not parse is ignored and rewritten; another API root, client id or secret never reads
//! it.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use gpucloud_core::{CloudClient, ErrorKind, ListInstancesArgs};
use gpucloud_fakes::kit::Fault;
use gpucloud_fakes::verda::{FakeVerda, Operation};
use gpucloud_verda::{VerdaConfig, VerdaCredential};

use crate::common::*;

/// A client as a new process makes it: its own memory, the token files in `dir`.
fn process(config: VerdaConfig, dir: &Path) -> gpucloud_verda::VerdaClient {
    VerdaCredential::new(config.with_token_cache_dir(dir))
        .unwrap()
        .client(LOCATION)
}

/// Lists the instances: one authenticated request.
async fn list(client: &gpucloud_verda::VerdaClient) -> gpucloud_core::Result<usize> {
    client
        .list_instances(&ListInstancesArgs::default())
        .await
        .map(|instances| instances.len())
}

fn token_requests(fake: &FakeVerda) -> usize {
    fake.state().request_count("POST", "/v1/oauth2/token")
}

/// The token files in `dir`.
fn token_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

/// The one token file in `dir`.
fn the_token_file(dir: &Path) -> PathBuf {
    let files = token_files(dir);
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_next_process_makes_no_token_request() {
    let fake = fake().await;
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().join("verda");
    list(&process(config(&fake, CRED), &dir)).await.unwrap();
    assert_eq!(token_requests(&fake), 1);
    let file = the_token_file(&dir);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&dir), 0o700);
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(
        !saved.contains(fake.client_secret()) && !saved.contains(fake.client_id()),
        "only the token is stored: {saved}"
    );
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(!name.contains(fake.client_id()), "{name}");

    for _ in 0..2 {
        let next = process(config(&fake, CRED), &dir);
        list(&next).await.unwrap();
        assert!(!format!("{next:?}").contains(fake.client_secret()));
    }
    assert_eq!(token_requests(&fake), 1, "every later process reused it");
    assert_eq!(fake.state().tokens_issued(), 1);
    assert_eq!(fake.state().request_count("GET", "/v1/instances"), 3);
}

#[tokio::test]
async fn a_saved_token_the_api_rejects_is_fetched_once_more_and_the_file_replaced() {
    let fake = fake().await;
    let state = tempfile::tempdir().unwrap();
    list(&process(config(&fake, CRED), state.path()))
        .await
        .unwrap();
    let file = the_token_file(state.path());
    let before = std::fs::read(&file).unwrap();

    fake.state().expire_tokens();
    let next = process(config(&fake, CRED), state.path());
    list(&next).await.unwrap();
    assert_eq!(token_requests(&fake), 2, "one new fetch after the 401");
    assert_eq!(
        fake.state().request_count("GET", "/v1/instances"),
        3,
        "the first list, the refused one, and it once more"
    );
    assert_eq!(
        the_token_file(state.path()),
        file,
        "the same credential's file"
    );
    assert_ne!(std::fs::read(&file).unwrap(), before, "the new token saved");
    assert_eq!(mode(&file), 0o600);

    list(&process(config(&fake, CRED), state.path()))
        .await
        .unwrap();
    assert_eq!(token_requests(&fake), 2, "the new token is reused");

    // Rejected while no new token can be had: the call fails, and the rejected token is gone
    // from the file, so no later process starts from it.
    fake.state().expire_tokens();
    fake.state().set_fault_for(
        Operation::Token,
        Fault::ServerError {
            status: 400,
            times: 1,
        },
    );
    list(&process(config(&fake, CRED), state.path()))
        .await
        .unwrap_err();
    assert_eq!(token_files(state.path()), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn a_shared_or_corrupt_file_is_ignored_and_rewritten() {
    let fake = fake().await;
    let state = tempfile::tempdir().unwrap();
    list(&process(config(&fake, CRED), state.path()))
        .await
        .unwrap();
    let file = the_token_file(state.path());
    let mut fetches = 1;

    // Readable by others: not trusted, whatever it holds.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    list(&process(config(&fake, CRED), state.path()))
        .await
        .unwrap();
    fetches += 1;
    assert_eq!(token_requests(&fake), fetches, "mode 0644 ignored");
    assert_eq!(mode(&file), 0o600, "rewritten private");

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Fresh, but no header can carry it.
    let unsendable = format!(
        r#"{{"access_token":"bad\ntoken","issued_at":{now},"expires_at":{}}}"#,
        now + 3600
    );
    for corrupt in [
        &b""[..],
        b"not json",
        b"{\"access_token\": 7",
        unsendable.as_bytes(),
    ] {
        std::fs::write(&file, corrupt).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        list(&process(config(&fake, CRED), state.path()))
            .await
            .unwrap();
        fetches += 1;
        assert_eq!(
            token_requests(&fake),
            fetches,
            "{}",
            String::from_utf8_lossy(corrupt)
        );
    }
    list(&process(config(&fake, CRED), state.path()))
        .await
        .unwrap();
    assert_eq!(token_requests(&fake), fetches, "the rewritten file is used");

    // A directory where the file should be: ignored, and nothing can be saved; calls work.
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    list(&process(config(&fake, CRED), state.path()))
        .await
        .unwrap();
    assert_eq!(token_requests(&fake), fetches + 1);
}

#[tokio::test]
async fn another_secret_client_id_or_api_root_never_reads_the_file() {
    let fake = fake().await;
    let state = tempfile::tempdir().unwrap();
    list(&process(config(&fake, CRED), state.path()))
        .await
        .unwrap();
    let file = the_token_file(state.path());
    let saved = std::fs::read(&file).unwrap();

    // The saved token is valid: a client that read it would be answered; these are refused,
    // because they ask for their own token with their own (wrong) credentials.
    for (client_id, secret) in [
        (fake.client_id(), "another-secret"),
        ("another-client-id", fake.client_secret()),
    ] {
        let other = VerdaConfig::new(client_id, secret).with_base_url(fake.base_url());
        let error = list(&process(other, state.path())).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unauthenticated, "{client_id}");
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("another-secret"), "{shown}");
    }
    assert_eq!(fake.state().tokens_issued(), 1);
    assert_eq!(token_requests(&fake), 3);
    assert_eq!(std::fs::read(&file).unwrap(), saved, "left as it was");

    // Another API root with the same client id and secret has its own file and token.
    let elsewhere = FakeVerda::start(options()).await.unwrap();
    list(&process(config(&elsewhere, CRED), state.path()))
        .await
        .unwrap();
    assert_eq!(token_requests(&elsewhere), 1);
    assert_eq!(
        elsewhere.state().request_count("GET", "/v1/instances"),
        1,
        "no 401: the other root's token was never sent"
    );
    assert_eq!(token_files(state.path()).len(), 2);
}
