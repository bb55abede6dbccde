//! Fields: the registry of every field falco-rs knows (name, type, argument kind, description;
//! the `--list` catalog) and the extractors per field class that read values from an event and
//! the state. Knows nothing about rules syntax.
//!
//! The engine sees fields through two things defined here: [`FieldInfo`] (looked up by name at
//! compile time, to type-check operators and constants) and the [`Extract`] trait (called at
//! evaluation time with a resolved [`FieldRef`]).
//!
//! - [`registry`] (+ generated `catalog`): the catalog, flags, print formats, dotted arguments.
//! - [`listing`]: `--list` (text, markdown, JSON, names) and `--list-plugins`.
//! - [`extract`]: [`extract::Extractor`], the values of every class for one parsed event, and
//!   their rendering for alert text ([`extract::render_output`]) and JSON `output_fields`
//!   ([`extract::render_json`]). Ancestor fields without an index (`proc.aname`, ...) and the
//!   filter-only `fd.ip`/`fd.net`/`fd.port`/`fd.proto` yield several values.
//! - [`names`]: errno and signal names of libs 0.25.4.

use std::borrow::Cow;
use std::net::IpAddr;

pub mod around;
mod catalog;
pub mod dns;
pub mod extract;
mod fdlist;
pub mod listing;
pub mod names;
pub mod registry;
#[cfg(test)]
mod tests;

pub use registry::lookup;

/// A field's value type, with the names libsinsp prints in `--list` (`UINT64`, `CHARBUF`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    Int8,
    Int16,
    Int32,
    Int64,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Bool,
    Double,
    Charbuf,
    Bytebuf,
    Fspath,
    Fsrelpath,
    Errno,
    Fd,
    Pid,
    Port,
    L4Proto,
    SockFamily,
    Mode,
    Flags8,
    Flags16,
    Flags32,
    RelTime,
    AbsTime,
    Ipv4Addr,
    Ipv4Net,
    Ipv6Addr,
    Ipv6Net,
    IpAddr,
    IpNet,
    SyscallId,
    Sigtype,
    /// `DYNAMIC`: the type depends on the argument (`evt.rawarg.NAME`).
    Dynamic,
}

impl FieldType {
    /// The name libsinsp prints for the type in `--list` (`param_type_to_string`).
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Int8 => "INT8",
            FieldType::Int16 => "INT16",
            FieldType::Int32 => "INT32",
            FieldType::Int64 => "INT64",
            FieldType::Uint8 => "UINT8",
            FieldType::Uint16 => "UINT16",
            FieldType::Uint32 => "UINT32",
            FieldType::Uint64 => "UINT64",
            FieldType::Bool => "BOOL",
            FieldType::Double => "DOUBLE",
            FieldType::Charbuf => "CHARBUF",
            FieldType::Bytebuf => "BYTEBUF",
            FieldType::Fspath => "FSPATH",
            FieldType::Fsrelpath => "FSRELPATH",
            FieldType::Errno => "ERRNO",
            FieldType::Fd => "FD",
            FieldType::Pid => "PID",
            FieldType::Port => "PORT",
            FieldType::L4Proto => "L4PROTO",
            FieldType::SockFamily => "SOCKFAMILY",
            FieldType::Mode => "MODE",
            FieldType::Flags8 => "FLAGS8",
            FieldType::Flags16 => "FLAGS16",
            FieldType::Flags32 => "FLAGS32",
            FieldType::RelTime => "RELTIME",
            FieldType::AbsTime => "ABSTIME",
            FieldType::Ipv4Addr => "IPV4ADDR",
            FieldType::Ipv4Net => "IPV4NET",
            FieldType::Ipv6Addr => "IPV6ADDR",
            FieldType::Ipv6Net => "IPV6NET",
            FieldType::IpAddr => "IPADDR",
            FieldType::IpNet => "IPNET",
            FieldType::SyscallId => "SYSCALLID",
            FieldType::Sigtype => "SIGTYPE",
            FieldType::Dynamic => "DYNAMIC",
        }
    }
}

/// Whether a field takes an argument (`proc.aname[2]`, `evt.arg.name`, `k8s.pod.label[app]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// No argument accepted.
    None,
    /// An argument is required.
    Required,
    /// An argument may be given.
    Allowed,
}

/// Whether a field's argument is an index (`[2]`) or a key (`[app]`), where it takes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    Index,
    Key,
    /// `evt.arg.NAME` / `evt.arg[N]`: a parameter name or an index.
    IndexOrKey,
}

/// One entry of the field catalog.
#[derive(Debug, Clone, Copy)]
pub struct FieldInfo {
    /// Full name, e.g. `proc.aname`.
    pub name: &'static str,
    /// Field class name as `--list` prints it (e.g. `process`, `fd`, `container`).
    pub class: &'static str,
    pub ftype: FieldType,
    pub arg: ArgKind,
    pub arg_type: ArgType,
    /// Extracts a list of values (`is_list` in `--list --format json`).
    pub is_list: bool,
    /// Hidden from `--list` (`EPF_TABLE_ONLY`-like) but usable in rules.
    pub hidden: bool,
    /// Description as `--list` prints it.
    pub desc: &'static str,
}

/// A resolved field reference as the engine stores it: catalog entry plus argument.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldRef {
    pub info: &'static str,
    pub arg: Option<FieldArg>,
    /// `info` as a [`Hot`] field, resolved once by [`FieldRef::new`].
    hot: Hot,
}

impl FieldRef {
    pub fn new(info: &'static str, arg: Option<FieldArg>) -> FieldRef {
        FieldRef {
            info,
            arg,
            hot: Hot::of(info),
        }
    }

    /// The field as a [`Hot`] field ([`Hot::None`] for every other field).
    pub fn hot(&self) -> Hot {
        self.hot
    }
}

/// The fields the stable rules read on every file open (`open_read`, `open_write`,
/// `sensitive_files`, `directory_traversal`, ...) and `proc.name`: the extractor dispatches
/// them on this tag instead of comparing field names, the rest by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Hot {
    #[default]
    None,
    FdName,
    FdNum,
    FdTypechar,
    FdDirectory,
    FdFilename,
    FdContainerDirectory,
    FdNameraw,
    EvtIsOpenRead,
    EvtIsOpenWrite,
    ProcName,
}

impl Hot {
    pub fn of(name: &str) -> Hot {
        match name {
            "fd.name" => Hot::FdName,
            "fd.num" => Hot::FdNum,
            "fd.typechar" => Hot::FdTypechar,
            "fd.directory" => Hot::FdDirectory,
            "fd.filename" => Hot::FdFilename,
            "fd.containerdirectory" => Hot::FdContainerDirectory,
            "fd.nameraw" => Hot::FdNameraw,
            "evt.is_open_read" => Hot::EvtIsOpenRead,
            "evt.is_open_write" => Hot::EvtIsOpenWrite,
            "proc.name" => Hot::ProcName,
            _ => Hot::None,
        }
    }
}

/// The argument of a field reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldArg {
    Index(i64),
    Key(String),
}

/// The index a condition gives `proc.apid` and `proc.aenv` used without an index (and
/// `proc.aenv[N]`): the comparison holds if it holds for any ancestor (libsinsp's
/// `compare_full_apid`/`compare_full_aenv`, `m_argid == -1`), while an output of the same field
/// renders the process's own value. No rule text can spell this index.
pub const EVERY_ANCESTOR: i64 = i64::MIN;

/// The reference a condition extracts for a field the condition names: [`EVERY_ANCESTOR`] for
/// `proc.apid` without an index and `proc.aenv` without a key; the field itself otherwise.
pub fn condition_ref(mut field: FieldRef) -> FieldRef {
    let every = matches!(
        (field.info, &field.arg),
        ("proc.apid", None) | ("proc.aenv", None | Some(FieldArg::Index(_)))
    );
    if every {
        field.arg = Some(FieldArg::Index(EVERY_ANCESTOR));
    }
    field
}

/// One extracted value. Borrowed where the source allows, so extraction does not allocate.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Int(i64),
    Uint(u64),
    Bool(bool),
    Double(f64),
    /// Strings are byte strings: conditions compare them unsanitised.
    Str(Cow<'a, [u8]>),
    Bytes(Cow<'a, [u8]>),
    Ip(IpAddr),
    Net(ipnet::IpNet),
}

/// What the engine calls to read field values of the current event.
///
/// Implemented by the fields extractors over (event, state); tests implement it with maps.
pub trait Extract {
    /// The event type code of the current event.
    fn evt_type(&self) -> u16;
    /// Appends the values of `field` to `out` and returns true, or returns false when the
    /// field is missing for this event (comparisons are then false, outputs print `<NA>`).
    fn extract<'s>(&'s mut self, field: &FieldRef, out: &mut Vec<Value<'s>>) -> bool;

    /// A fast path for fields with at most one value: returns false when the extractor has
    /// none for `field` (call [`Extract::extract`]); else sets `out` to what
    /// [`Extract::extract`] would append (alone), or to `None` when the field is missing.
    /// The value is made in the caller's slot: returned, it was copied with wide loads that
    /// stall on the narrower stores that had just made it (about 8% of the live CPU time).
    fn extract_single<'s>(&'s mut self, _field: &FieldRef, _out: &mut Option<Value<'s>>) -> bool {
        false
    }
}
