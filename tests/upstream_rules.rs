//! `upstream-rules/sync`: places the pinned files sha256-checked, refuses a tampered copy and
//! says so clearly when it has no source.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::shared_dir;

fn sync(upstream: &Path, cache: &Path) -> std::process::Output {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("upstream-rules/sync");
    Command::new("bash")
        .arg(script)
        .arg(cache)
        .env("FALCO_RS_UPSTREAM", upstream)
        // No network in tests: an address that cannot answer.
        .env("FALCO_RS_UPSTREAM_URL", "http://127.0.0.1:9")
        .output()
        .expect("run upstream-rules/sync")
}

fn pinned_names() -> Vec<String> {
    let lock = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("upstream-rules/rules.lock"),
    )
    .unwrap();
    lock.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

#[test]
fn sync_installs_every_pinned_file_from_the_local_copy() {
    let cache = tempfile::tempdir().unwrap();
    let out = sync(&shared_dir().join("upstream"), cache.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in pinned_names() {
        assert!(cache.path().join(&name).is_file(), "{name} not installed");
    }
    // The rule file is byte-identical to the recorded upstream one.
    assert_eq!(
        std::fs::read(cache.path().join("falco_rules.yaml")).unwrap(),
        std::fs::read(shared_dir().join("upstream/rules/falco_rules.yaml")).unwrap()
    );
}

#[test]
fn sync_refuses_a_tampered_copy_and_a_missing_source() {
    let upstream = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(upstream.path().join("rules")).unwrap();
    let mut text = std::fs::read(shared_dir().join("upstream/rules/falco_rules.yaml")).unwrap();
    text.extend_from_slice(b"\n# changed\n");
    std::fs::write(upstream.path().join("rules/falco_rules.yaml"), text).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = sync(upstream.path(), cache.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sha256 mismatch for falco_rules.yaml"),
        "{err}"
    );
    assert!(
        err.contains("cannot fetch falco.yaml (falcosecurity/falco 0.44.1)"),
        "{err}"
    );
    assert!(!cache.path().join("falco_rules.yaml").exists());
}
