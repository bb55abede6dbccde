//! Helpers shared by the unit tests of every module: where the read-only `shared/` facts
//! (specs, Falco's recorded goldens, upstream files and traces) are.

use std::path::PathBuf;

/// `shared/`: `FALCO_RS_SHARED` if set, else `<manifest>/../shared`, else `/work/shared`.
pub(crate) fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FALCO_RS_SHARED") {
        return PathBuf::from(dir);
    }
    let sibling = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if sibling.is_dir() {
        return sibling;
    }
    PathBuf::from("/work/shared")
}
