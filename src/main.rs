//! The `falco` binary: everything lives in the library; this only hands over the exit code and
//! picks the global allocator (mimalloc: rules loading and the event loop allocate many small,
//! short-lived objects, where it beats the system allocator; built without transparent huge
//! pages, which cost more to clear than they save on a short run and double the peak RSS).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    falco_rs::app::main()
}
