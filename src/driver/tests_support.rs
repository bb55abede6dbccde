//! Test helpers of the driver module: where ../shared is, and whether live BPF tests may run.

pub(crate) use crate::test_support::shared_dir;

/// True when live BPF tests can run (root and kernel BTF). When they cannot: under CI=true
/// the test fails, elsewhere it is skipped with a message.
#[allow(dead_code)]
pub fn bpf_available(test: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    let btf = std::path::Path::new("/sys/kernel/btf/vmlinux").exists();
    if root && btf {
        return true;
    }
    let why = if !root {
        "not running as root"
    } else {
        "no /sys/kernel/btf/vmlinux"
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: BPF is required in CI but unavailable: {why}");
    }
    eprintln!("{test}: skipped ({why})");
    false
}
