//! The field catalog: every field of the `syscall` source and of the built-in container plugin,
//! in `--list` order.

use super::FieldInfo;

/// All fields, in catalog order.
pub static FIELDS: &[FieldInfo] = &[];

/// Looks a field up by its full name (without argument).
pub fn lookup(name: &str) -> Option<&'static FieldInfo> {
    FIELDS.iter().find(|f| f.name == name)
}
