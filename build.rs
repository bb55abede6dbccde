//! Build script: compiles the eBPF probe in bpf/ with clang (added with the live drivers).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
}
