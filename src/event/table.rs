//! The event table of libs 0.25.4 (driver schema 4.5.1): one entry per event code.
//!
//! Contract used by other stages (keep these signatures):
//! - [`codes_for_name`]: every event code (both directions, every version) whose name is `name`;
//!   the engine's evttype index uses it for `evt.type = open` and friends.
//! - [`name_of`]: the event name of a code.

/// Every event code (enter and exit, all versions) named `name`; empty when unknown.
pub fn codes_for_name(name: &str) -> Vec<u16> {
    let _ = name;
    Vec::new()
}

/// The name of event code `code`, if the code exists.
pub fn name_of(code: u16) -> Option<&'static str> {
    let _ = code;
    None
}
