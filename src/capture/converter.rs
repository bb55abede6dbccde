//! The libs 0.25.4 replay converter: every event read from a capture goes through it before
//! anything else sees it (scap-format.md §11, Appendix B). It drops old enter events, stores
//! enter events per thread so their parameters can be merged into the exit, appends missing
//! parameters and upgrades old event types, step by step until the event is current.
//!
//! Input and output are v2 records; the converter knows nothing about blocks or state.

use std::collections::HashMap;

use super::CaptureError;
use super::converter_table::CONVERSIONS;
use crate::event::decode::{self, HEADER_LEN};
use crate::event::table::{self, EventInfo, ParamType};

/// At most this many conversion steps per event (`MAX_CONVERSION_BOUNDARY`).
const MAX_CONVERSION_STEPS: usize = 50;

/// What a table entry does with the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Remember the event for its thread and drop it.
    Store,
    /// Remember the event for its thread and deliver it.
    StoreAndPass,
    /// Deliver the event.
    Pass,
    /// Keep the parameters and append the instructions' results.
    AddParams,
    /// Build an event of `new_type` from the instructions.
    ChangeType,
}

/// How one output parameter is produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Instr {
    /// Parameter i of the event being converted.
    Old(u8),
    /// Parameter i of the stored enter event; the type's default value when none is stored.
    EnterOrDefault(u8),
    /// Parameter i of the stored enter event; empty when none is stored.
    EnterOrEmpty(u8),
    /// Length 0.
    Empty,
    /// Zero of the type's minimum size (0xFFFFFFFF for UID/GID).
    Default,
    /// CONTAINER_E → its JSON description; empty when a field is missing.
    ContainerJsonOrEmpty,
}

/// One entry of the conversion table, keyed by (event type, parameter count).
#[derive(Debug)]
pub(crate) struct Conversion {
    pub(crate) event_type: u16,
    pub(crate) nparams: u8,
    pub(crate) action: Action,
    pub(crate) new_type: u16,
    pub(crate) instrs: &'static [Instr],
}

fn lookup(event_type: u16, nparams: u8) -> Option<&'static Conversion> {
    CONVERSIONS
        .binary_search_by_key(&(event_type, nparams), |c| (c.event_type, c.nparams))
        .ok()
        .map(|i| &CONVERSIONS[i])
}

/// What to do with an event after conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Deliver the input record unchanged.
    Pass,
    /// Drop the event (old enter, stored enter, unused code).
    Drop,
    /// Deliver [`Converter::output`].
    Converted,
}

enum Step {
    Pass,
    Drop,
    Continue,
}

/// Converter state: the last stored enter event of each thread, and scratch buffers.
#[derive(Debug, Default)]
pub struct Converter {
    stored: HashMap<u64, Vec<u8>>,
    output: Vec<u8>,
    scratch: Vec<u8>,
}

fn hdr_type(r: &[u8]) -> u16 {
    u16::from_le_bytes([r[20], r[21]])
}
fn hdr_tid(r: &[u8]) -> u64 {
    u64::from_le_bytes(r[8..16].try_into().expect("8"))
}
fn hdr_nparams(r: &[u8]) -> u32 {
    u32::from_le_bytes(r[22..26].try_into().expect("4"))
}

fn info(code: u16) -> &'static EventInfo {
    table::by_code(code).expect("event types are checked before conversion")
}

/// Name and direction as libscap prints them in converter errors (`open_X`).
fn evt_label(code: u16) -> String {
    let dir = if code.is_multiple_of(2) { 'E' } else { 'X' };
    format!("{}_{}", info(code).name, dir)
}

fn convertibility(record: &[u8]) -> Result<Step, String> {
    let event_type = hdr_type(record);
    let ev = info(event_type);
    if ev.is_unused() {
        return Ok(Step::Drop);
    }
    let enter = event_type.is_multiple_of(2);
    if !ev.is_converter_managed() {
        if !ev.is_old_version() {
            return Ok(Step::Pass);
        }
        if enter {
            return Ok(Step::Drop);
        }
        return Err(format!(
            "Bug. Old exit event (type: {event_type}) must be flagged as managed by the scap-converter"
        ));
    }
    if enter {
        return Ok(Step::Continue);
    }
    if ev.is_old_version() || hdr_nparams(record) as usize != ev.nparams() {
        return Ok(Step::Continue);
    }
    Ok(Step::Pass)
}

/// Raw parameter `i` of a record already validated by [`decode::Event::decode`].
fn raw_param(record: &[u8], i: usize) -> &[u8] {
    let large = info(hdr_type(record)).is_large_payload();
    let width = if large { 4 } else { 2 };
    let n = hdr_nparams(record) as usize;
    let len_at = |k: usize| {
        let off = HEADER_LEN + k * width;
        if large {
            u32::from_le_bytes(record[off..off + 4].try_into().expect("4")) as usize
        } else {
            usize::from(u16::from_le_bytes([record[off], record[off + 1]]))
        }
    };
    let mut off = HEADER_LEN + n * width;
    for k in 0..i {
        off += len_at(k);
    }
    &record[off..off + len_at(i)]
}

/// `ppm_param_min_len_from_type`: size of the default value.
fn min_len(t: ParamType) -> Result<usize, String> {
    use ParamType::*;
    Ok(match t {
        Bytebuf | Charbuf | Socktuple | Fdlist | Fspath | CharbufArray | CharbufPairArray
        | FsRelPath | Dyn | Sockaddr => 0,
        Ipv6Addr => 16,
        t => match t.fixed_size() {
            Some(n) if !matches!(t, Bool | Double | Ipv4Net | Ipv6Net | L4Proto | SockFamily) => n,
            _ => {
                return Err(format!(
                    "Unexpected error while computing minimum parameter length from type {}",
                    t as u8
                ));
            }
        },
    })
}

/// `ppm_param_max_len_from_type`: the cap applied to copied parameters.
fn max_len(t: ParamType, large: bool) -> Result<usize, String> {
    let n = min_len(t)?;
    Ok(if n == 0 {
        if large {
            u32::MAX as usize
        } else {
            u16::MAX as usize
        }
    } else {
        n
    })
}

/// Where one output parameter comes from.
#[derive(Clone, Copy)]
enum Src {
    Old(usize),
    Enter(usize),
    Empty,
    Default,
    Scratch,
}

impl Converter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The event produced by the last call to [`Converter::convert`] that returned
    /// [`Outcome::Converted`].
    pub fn output(&self) -> &[u8] {
        &self.output
    }

    /// Forgets every stored enter event (a new capture section starts).
    pub fn reset(&mut self) {
        self.stored.clear();
    }

    /// Runs one event (a v2 record of a known type, already length-checked) through the
    /// converter. `offset` is only used in error messages.
    pub fn convert(&mut self, record: &[u8], offset: u64) -> Result<Outcome, CaptureError> {
        let err = |reason: String| CaptureError::Conversion { offset, reason };
        match convertibility(record).map_err(err)? {
            Step::Pass => return Ok(Outcome::Pass),
            Step::Drop => return Ok(Outcome::Drop),
            Step::Continue => {}
        }
        let mut current: Option<Vec<u8>> = None;
        for _ in 0..MAX_CONVERSION_STEPS {
            let input: &[u8] = current.as_deref().unwrap_or(record);
            let (step, produced) = self.step(input).map_err(err)?;
            if let Some(new) = produced {
                current = Some(new);
            }
            match step {
                Step::Continue => continue,
                Step::Drop => return Ok(Outcome::Drop),
                Step::Pass => {
                    return Ok(match current {
                        None => Outcome::Pass,
                        Some(new) => {
                            self.output = new;
                            Outcome::Converted
                        }
                    });
                }
            }
        }
        Err(err(format!(
            "Reached '{MAX_CONVERSION_STEPS}' conversions with event (type: {}, nparams: {}) \
             without reaching an end.",
            hdr_type(current.as_deref().unwrap_or(record)),
            hdr_nparams(current.as_deref().unwrap_or(record))
        )))
    }

    /// Remembers `record` as the enter event of `tid`, reusing the thread's buffer.
    fn store(&mut self, tid: u64, record: &[u8]) {
        let slot = self.stored.entry(tid).or_default();
        slot.clear();
        slot.extend_from_slice(record);
    }

    /// One `scap_convert_event` call. Returns the decision for the produced event and the
    /// produced event, if a new one was built.
    fn step(&mut self, input: &[u8]) -> Result<(Step, Option<Vec<u8>>), String> {
        let event_type = hdr_type(input);
        let nparams = hdr_nparams(input);
        let tid = hdr_tid(input);
        let conv = u8::try_from(nparams)
            .ok()
            .and_then(|n| lookup(event_type, n))
            .ok_or_else(|| {
                format!(
                    "Required conversion for event (type: {event_type}, nparams: {nparams}), but \
                     we don't handle it in the table."
                )
            })?;
        match conv.action {
            Action::Store => {
                self.store(tid, input);
                return Ok((Step::Drop, None));
            }
            Action::StoreAndPass => {
                self.store(tid, input);
                return Ok((Step::Pass, None));
            }
            Action::Pass => return Ok((Step::Pass, None)),
            Action::AddParams | Action::ChangeType => {}
        }
        let (new_type, first) = if conv.action == Action::ChangeType {
            (conv.new_type, 0)
        } else {
            (event_type, nparams as usize)
        };
        let new_info = info(new_type);
        let large = new_info.is_large_payload();
        let mut srcs: Vec<Src> = (0..first).map(Src::Old).collect();
        let mut used_enter = false;
        // A consumed enter event leaves an empty buffer behind (libscap resets the pointer).
        let enter = self.stored.get(&tid).filter(|v| !v.is_empty());
        self.scratch.clear();
        for instr in conv.instrs {
            let src = match *instr {
                Instr::Empty => Src::Empty,
                Instr::Default => Src::Default,
                Instr::Old(i) => {
                    if u32::from(i) >= nparams {
                        return Err(format!(
                            "We want to take parameter '{i}' from old event '{event_type}' but \
                             this event has only '{nparams}' parameters!"
                        ));
                    }
                    Src::Old(usize::from(i))
                }
                Instr::EnterOrDefault(i) | Instr::EnterOrEmpty(i) => match enter {
                    None => {
                        if matches!(instr, Instr::EnterOrEmpty(_)) {
                            Src::Empty
                        } else {
                            Src::Default
                        }
                    }
                    Some(stored) => {
                        let stored_type = hdr_type(stored);
                        if stored_type != event_type.wrapping_sub(1) {
                            return Err(format!(
                                "The enter event for '{}' is not the right one! Event found '{}'.",
                                evt_label(event_type),
                                evt_label(stored_type)
                            ));
                        }
                        if hdr_nparams(stored) <= u32::from(i) {
                            return Err(format!(
                                "We want to take parameter '{i}' from enter event '{stored_type}' \
                                 but this event has only '{}' parameters!",
                                hdr_nparams(stored)
                            ));
                        }
                        used_enter = true;
                        Src::Enter(usize::from(i))
                    }
                },
                Instr::ContainerJsonOrEmpty => match container_json(input) {
                    Some(json) => {
                        self.scratch = json;
                        Src::Scratch
                    }
                    None => Src::Empty,
                },
            };
            srcs.push(src);
        }
        let mut values: Vec<&[u8]> = Vec::with_capacity(srcs.len());
        let mut default_bufs: Vec<Vec<u8>> = Vec::new();
        for (slot, src) in srcs.iter().enumerate() {
            if let Src::Default = src {
                let ptype = new_info
                    .params
                    .get(slot)
                    .map(|p| p.ptype)
                    .ok_or_else(|| format!("event type {new_type} has no parameter {slot}"))?;
                let n = min_len(ptype)?;
                let mut v = vec![0u8; n];
                if matches!(ptype, ParamType::Uid | ParamType::Gid) {
                    v.copy_from_slice(&u32::MAX.to_le_bytes());
                }
                default_bufs.push(v);
            }
        }
        let mut defaults = default_bufs.iter();
        for (slot, src) in srcs.iter().enumerate() {
            let value: &[u8] = match *src {
                Src::Old(i) => raw_param(input, i),
                Src::Enter(i) => raw_param(enter.expect("checked above"), i),
                Src::Empty => &[],
                Src::Default => defaults.next().expect("one buffer per default"),
                Src::Scratch => &self.scratch,
            };
            let capped = match (*src, new_info.params.get(slot)) {
                // Parameters kept by ADD_PARAMS are copied as they are.
                (Src::Old(_), _) if conv.action == Action::AddParams => value.len(),
                (Src::Old(_) | Src::Enter(_), Some(p)) => value.len().min(max_len(p.ptype, large)?),
                _ => value.len(),
            };
            values.push(&value[..capped]);
        }
        let ts = u64::from_le_bytes(input[0..8].try_into().expect("8"));
        let new = decode::encode(ts, tid, new_type, &values);
        if used_enter && let Some(slot) = self.stored.get_mut(&tid) {
            slot.clear();
        }
        let step = convertibility(&new)?;
        Ok((step, Some(new)))
    }
}

/// The JSON libscap synthesises for an old CONTAINER_E (id, type, name, image); `None` when a
/// string field is missing or empty (the converter then falls back to an empty parameter).
fn container_json(record: &[u8]) -> Option<Vec<u8>> {
    if hdr_nparams(record) < 4 {
        return None;
    }
    let text = |i: usize| -> Option<String> {
        let b = raw_param(record, i);
        let (_, body) = b.split_last()?;
        Some(String::from_utf8_lossy(body).into_owned())
    };
    let id = text(0)?;
    let ty = raw_param(record, 1);
    let ty = u32::from_le_bytes(ty.get(..4)?.try_into().ok()?);
    let name = text(2)?;
    let image = text(3)?;
    let mut json =
        format!(r#"{{"id":"{id}","type":{ty},"name":"{name}","image":"{image}"}}"#).into_bytes();
    json.push(0);
    Some(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::event::decode::encode;

    fn run(conv: &mut Converter, record: &[u8]) -> Option<Vec<u8>> {
        match conv.convert(record, 0).unwrap() {
            Outcome::Pass => Some(record.to_vec()),
            Outcome::Drop => None,
            Outcome::Converted => Some(conv.output().to_vec()),
        }
    }

    #[test]
    fn table_is_sorted_and_complete() {
        assert_eq!(CONVERSIONS.len(), 253);
        assert!(
            CONVERSIONS
                .windows(2)
                .all(|w| (w[0].event_type, w[0].nparams) < (w[1].event_type, w[1].nparams))
        );
    }

    #[test]
    fn open_enter_without_params_gets_three_empty_ones() {
        // cat_write.scap: OPEN_E with 0 params reaches the rules (spec §12).
        let mut c = Converter::new();
        let out = run(&mut c, &encode(1, 7, 2, &[])).unwrap();
        let e = Event::decode(&out).unwrap();
        assert_eq!(e.event_type(), 2);
        assert_eq!(e.nparams(), 3);
        assert!(e.params().all(|p| p.is_empty()));
    }

    #[test]
    fn old_open_exit_gets_dev_and_ino_empty() {
        let mut c = Converter::new();
        let rec = encode(
            1,
            7,
            3,
            &[
                &3i64.to_le_bytes(),
                b"/dev/null\0",
                &1u32.to_le_bytes(),
                &0u32.to_le_bytes(),
            ],
        );
        let out = run(&mut c, &rec).unwrap();
        let e = Event::decode(&out).unwrap();
        assert_eq!(e.nparams(), 6);
        assert_eq!(e.param(1), Some(&b"/dev/null\0"[..]));
        assert_eq!(e.param(4), Some(&[][..]));
        assert_eq!(e.param(5), Some(&[][..]));
    }

    #[test]
    fn close_enter_is_stored_and_merged_into_exit() {
        let mut c = Converter::new();
        assert_eq!(run(&mut c, &encode(1, 7, 4, &[&5i64.to_le_bytes()])), None);
        let out = run(&mut c, &encode(2, 7, 5, &[&0i64.to_le_bytes()])).unwrap();
        let e = Event::decode(&out).unwrap();
        assert_eq!(e.nparams(), 2);
        assert_eq!(e.param_i64(1).unwrap(), Some(5));
        // the stored enter event was consumed: a second exit gets the default fd (0)
        let out = run(&mut c, &encode(3, 7, 5, &[&0i64.to_le_bytes()])).unwrap();
        assert_eq!(Event::decode(&out).unwrap().param_i64(1).unwrap(), Some(0));
    }

    #[test]
    fn enter_of_another_type_is_an_error() {
        let mut c = Converter::new();
        run(&mut c, &encode(1, 7, 4, &[&5i64.to_le_bytes()]));
        let err = c.convert(&encode(2, 7, 7, &[&0i64.to_le_bytes(), b""]), 99);
        assert_eq!(
            err.unwrap_err().to_string(),
            "capture conversion failed at byte offset 99: The enter event for 'read_X' is not the \
             right one! Event found 'close_E'."
        );
    }

    #[test]
    fn old_enter_and_unused_events_are_dropped() {
        let mut c = Converter::new();
        // SYSCALL_CLONE_20_E (222): old, not managed
        assert_eq!(
            c.convert(&encode(1, 1, 222, &[]), 0).unwrap(),
            Outcome::Drop
        );
        // PROCEXIT_X (17): unused
        assert_eq!(c.convert(&encode(1, 1, 17, &[]), 0).unwrap(), Outcome::Drop);
        // PROCINFO_E: current, not managed
        let r = encode(1, 1, 234, &[&1u64.to_le_bytes(), &2u64.to_le_bytes()]);
        assert_eq!(c.convert(&r, 0).unwrap(), Outcome::Pass);
    }

    #[test]
    fn execve_16_chains_up_to_19_with_31_params() {
        let mut c = Converter::new();
        let mut params: Vec<Vec<u8>> = vec![0i64.to_le_bytes().to_vec(), b"cat\0".to_vec()];
        while params.len() < 16 {
            params.push(Vec::new());
        }
        let refs: Vec<&[u8]> = params.iter().map(|p| p.as_slice()).collect();
        let out = run(&mut c, &encode(1, 9, 231, &refs)).unwrap();
        let e = Event::decode(&out).unwrap();
        assert_eq!(e.event_type(), 293);
        assert_eq!(e.nparams(), 31);
        assert_eq!(e.param_str(1).unwrap(), Some("cat"));
        // env (old[15]) stays at index 15; tty (new in 17) is empty
        assert_eq!(e.param(16), Some(&[][..]));
    }

    #[test]
    fn brk_1_exit_becomes_brk_4_with_five_params() {
        // libs table.cpp: old[0], enter[0]?empty, then three `{C_INSTR_FROM_EMPTY}` (which the
        // spec's Appendix B lost); without them the chain would stop with a missing entry.
        let mut c = Converter::new();
        let out = run(&mut c, &encode(1, 1, 11, &[&0x1000u64.to_le_bytes()])).unwrap();
        let e = Event::decode(&out).unwrap();
        assert_eq!((e.event_type(), e.nparams()), (159, 5));
        assert_eq!(e.param_u64(0).unwrap(), Some(0x1000));
        assert!(e.params().skip(1).all(|p| p.is_empty()));
    }

    #[test]
    fn setuid_default_uid_fallback_and_container_json() {
        let mut c = Converter::new();
        // SETUID_X with 1 param and nothing stored: uid is empty (enter[0]?empty)
        let out = run(&mut c, &encode(1, 1, 199, &[&0i64.to_le_bytes()])).unwrap();
        assert_eq!(Event::decode(&out).unwrap().param(1), Some(&[][..]));
        // SOCKET_SOCKET_X with 4 params: flags appended as default (u32 0)
        let r = encode(
            1,
            1,
            19,
            &[
                &3i64.to_le_bytes(),
                &2u32.to_le_bytes(),
                &1u32.to_le_bytes(),
                &0u32.to_le_bytes(),
            ],
        );
        let out = run(&mut c, &r).unwrap();
        assert_eq!(Event::decode(&out).unwrap().param_u32(4).unwrap(), Some(0));
        // CONTAINER_E → CONTAINER_JSON_E → CONTAINER_JSON_2_E
        let r = encode(
            1,
            u64::MAX,
            228,
            &[b"abc\0", &0u32.to_le_bytes(), b"web\0", b"nginx\0"],
        );
        let out = run(&mut c, &r).unwrap();
        let e = Event::decode(&out).unwrap();
        assert_eq!(e.event_type(), 324);
        assert_eq!(
            e.param_str(0).unwrap(),
            Some(r#"{"id":"abc","type":0,"name":"web","image":"nginx"}"#)
        );
    }
}
