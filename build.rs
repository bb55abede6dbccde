//! Build script: compiles the CO-RE eBPF probe in `bpf/` with clang into
//! `$OUT_DIR/probe.bpf.o`, embedded by `src/driver` when a live backend feature is on.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=bpf/probe.bpf.c");
    println!("cargo:rerun-if-changed=bpf/falco_rs.h");
    println!("cargo:rerun-if-changed=bpf/vmlinux.h");
    println!("cargo:rerun-if-env-changed=CLANG");

    let live =
        env::var_os("CARGO_FEATURE_LIBBPF").is_some() || env::var_os("CARGO_FEATURE_AYA").is_some();
    if !live {
        return;
    }
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let object = out.join("probe.bpf.o");
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".to_string());
    let include = [
        "/usr/include/bpf/bpf_helpers.h",
        "/usr/local/include/bpf/bpf_helpers.h",
    ];
    if !include.iter().any(|p| PathBuf::from(p).exists()) {
        panic!(
            "falco-rs: libbpf headers (bpf/bpf_helpers.h) not found; install libbpf-dev \
             (`make deps` does) or build without the `libbpf` and `aya` features"
        );
    }
    let status = Command::new(&clang)
        .args([
            "-g",
            "-O2",
            "-target",
            "bpf",
            "-D__TARGET_ARCH_x86",
            "-Wall",
            "-Werror",
        ])
        .args(["-Wno-unused-function", "-Wno-unused-variable"])
        .arg("-Ibpf")
        .arg("-c")
        .arg("bpf/probe.bpf.c")
        .arg("-o")
        .arg(&object)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("falco-rs: clang failed to compile bpf/probe.bpf.c ({s})"),
        Err(e) => panic!(
            "falco-rs: cannot run `{clang}` to compile the eBPF probe ({e}); install clang \
             (`make deps` does), set CLANG=/path/to/clang, or build without the `libbpf` and \
             `aya` features"
        ),
    }
}
