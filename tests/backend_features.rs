//! Each live backend builds alone (cargo features `aya` and `libbpf`), and an aya-only binary
//! needs no C library for live capture at run time: the default build links libelf and zlib
//! dynamically for libbpf, the aya-only one must not. Builds go to their own target directory
//! (debug profile: linking is what is checked, not speed). A test binary of its own: cargo
//! runs test binaries one after the other, so these builds never run beside the live tests.

#[allow(dead_code)]
#[path = "util.rs"]
mod util;

use std::path::{Path, PathBuf};
use std::process::Command;

fn cargo(args: &[&str], target_dir: &Path) {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(env!("CARGO"))
        .args(args)
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(root)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn feature_target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/feature-builds")
}

/// The shared libraries an ELF file names as NEEDED.
fn needed(bin: &Path) -> Vec<String> {
    let out = Command::new("readelf")
        .arg("-d")
        .arg(bin)
        .output()
        .expect("readelf runs");
    assert!(out.status.success(), "readelf -d {}", bin.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l.split('[').nth(1)?.trim_end_matches(']').to_string()))
        .collect()
}

#[test]
fn aya_only_build_links_no_bpf_c_library() {
    let dir = feature_target_dir();
    cargo(
        &[
            "build",
            "--no-default-features",
            "--features",
            "aya",
            "--bin",
            "falco",
        ],
        &dir,
    );
    let bin = dir.join("debug/falco");
    let libs = needed(&bin);
    assert!(libs.iter().any(|l| l.starts_with("libc.so")), "{libs:?}");
    for c_lib in ["libbpf", "libelf", "libz"] {
        assert!(
            !libs.iter().any(|l| l.starts_with(c_lib)),
            "aya-only falco needs {c_lib}: {libs:?}"
        );
    }
    let version = Command::new(&bin).arg("--version").output().unwrap();
    assert!(version.status.success());
    assert!(
        String::from_utf8_lossy(&version.stdout).contains("Falco version: 0.44.1"),
        "{}",
        String::from_utf8_lossy(&version.stdout)
    );
    // the same binary refuses the backend it was built without, in words (-M bounds a run
    // that would wrongly start)
    let shared = util::shared_dir().join("upstream");
    let out = Command::new(&bin)
        .arg("-c")
        .arg(shared.join("falco-0.44.1/falco.yaml"))
        .arg("-r")
        .arg(shared.join("rules/falco_rules.yaml"))
        .args([
            "-o",
            "load_plugins[]=container",
            "-o",
            "engine.kind=modern_ebpf",
        ])
        .args(["-M", "2"])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(
            "engine.kind 'modern_ebpf' is not built into this falco-rs (cargo feature `libbpf` is off)"
        ),
        "{text}"
    );
}

#[test]
fn libbpf_only_build_compiles() {
    cargo(
        &[
            "check",
            "--no-default-features",
            "--features",
            "libbpf",
            "--all-targets",
        ],
        &feature_target_dir(),
    );
}
