//! Zero-copy decoding of one event record (`ppm_evt_hdr` + parameter lengths + values), and the
//! matching encoder used by the replay converter, the capture writer and tests.
//!
//! Record layout (scap-format.md §10): `u64 ts, u64 tid, u32 len, u16 type, u32 nparams`, then
//! `nparams` lengths (`u16`, or `u32` when the type has `EF_LARGE_PAYLOAD`), then the values.
//! Decoded parameters borrow from the record. Knows nothing about capture blocks or state.

use thiserror::Error;

use super::table::{self, Direction, EventInfo, ParamExtra, ParamType};

/// Size of `ppm_evt_hdr` with `nparams` (capture v2 blocks and live drivers).
pub const HEADER_LEN: usize = 26;
/// Size of the v1 header, without `nparams`.
pub const HEADER_V1_LEN: usize = 22;

/// Socket families as encoded in SOCKADDR/SOCKTUPLE parameters (`PPM_AF_*`).
pub const PPM_AF_UNIX: u8 = 1;
pub const PPM_AF_INET: u8 = 2;
pub const PPM_AF_INET6: u8 = 10;

/// Errors of record decoding and typed parameter access.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("event record too short: {found} bytes, expected at least {expected}")]
    TooShort { found: usize, expected: usize },
    #[error("event record length field is {len} but {available} bytes are available")]
    Truncated { len: usize, available: usize },
    #[error("unknown event type {event_type}")]
    UnknownType { event_type: u16 },
    #[error("event type {event_type}: parameter lengths sum to {found} bytes, expected {expected}")]
    ParamLengths {
        event_type: u16,
        found: usize,
        expected: usize,
    },
    #[error("event type {event_type} has {found} parameters, the table allows at most {expected}")]
    TooManyParams {
        event_type: u16,
        found: usize,
        expected: usize,
    },
    #[error("event type {event_type}, parameter {param}: {found} bytes, expected {expected}")]
    ParamSize {
        event_type: u16,
        param: usize,
        found: usize,
        expected: usize,
    },
    #[error("event type {event_type}, parameter {param}: {reason}")]
    BadParam {
        event_type: u16,
        param: usize,
        reason: &'static str,
    },
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

/// One decoded event record; every accessor borrows from the record bytes.
#[derive(Clone, Copy)]
pub struct Event<'a> {
    record: &'a [u8],
    info: &'static EventInfo,
    nparams: u32,
    large: bool,
    /// Where parameters `0..=STARTS-1` start (and the one after them ends), noted while the
    /// lengths are checked, so the common parameters are found without walking the lengths.
    starts: [u32; STARTS + 1],
}

/// Parameters whose offsets an [`Event`] keeps (the rest are found by walking the lengths).
const STARTS: usize = 8;

impl std::fmt::Debug for Event<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("ts", &self.ts())
            .field("tid", &self.tid())
            .field("type", &self.info.ppme)
            .field("nparams", &self.nparams)
            .finish()
    }
}

impl<'a> Event<'a> {
    /// Decodes a record with the v2 header. `record` may be longer than the record (block
    /// padding); only `len` bytes are used. Checks that the parameter lengths add up to `len`.
    pub fn decode(record: &'a [u8]) -> Result<Event<'a>, DecodeError> {
        if record.len() < HEADER_LEN {
            return Err(DecodeError::TooShort {
                found: record.len(),
                expected: HEADER_LEN,
            });
        }
        let len = u32_at(record, 16) as usize;
        if len < HEADER_LEN {
            return Err(DecodeError::TooShort {
                found: len,
                expected: HEADER_LEN,
            });
        }
        if len > record.len() {
            return Err(DecodeError::Truncated {
                len,
                available: record.len(),
            });
        }
        let record = &record[..len];
        let event_type = u16_at(record, 20);
        let info = table::by_code(event_type).ok_or(DecodeError::UnknownType { event_type })?;
        let nparams = u32_at(record, 22);
        let large = info.is_large_payload();
        let width = if large { 4 } else { 2 };
        let lens_end = (nparams as usize)
            .checked_mul(width)
            .and_then(|n| n.checked_add(HEADER_LEN))
            .filter(|&end| end <= len)
            .ok_or(DecodeError::ParamLengths {
                event_type,
                found: (nparams as usize).saturating_mul(width),
                expected: len - HEADER_LEN,
            })?;
        let mut sum = 0usize;
        let mut starts = [0u32; STARTS + 1];
        for i in 0..nparams as usize {
            if let Some(start) = starts.get_mut(i) {
                *start = (lens_end + sum) as u32;
            }
            let off = HEADER_LEN + i * width;
            sum += if large {
                u32_at(record, off) as usize
            } else {
                usize::from(u16_at(record, off))
            };
        }
        if let Some(end) = starts.get_mut(nparams as usize) {
            *end = (lens_end + sum) as u32;
        }
        if sum != len - lens_end {
            return Err(DecodeError::ParamLengths {
                event_type,
                found: sum,
                expected: len - lens_end,
            });
        }
        Ok(Event {
            record,
            info,
            nparams,
            large,
            starts,
        })
    }

    /// The record bytes (exactly `len` of them).
    pub fn record(&self) -> &'a [u8] {
        self.record
    }
    pub fn ts(&self) -> u64 {
        u64_at(self.record, 0)
    }
    pub fn tid(&self) -> u64 {
        u64_at(self.record, 8)
    }
    pub fn len(&self) -> usize {
        self.record.len()
    }
    pub fn is_empty(&self) -> bool {
        self.record.is_empty()
    }
    pub fn event_type(&self) -> u16 {
        self.info.code
    }
    pub fn info(&self) -> &'static EventInfo {
        self.info
    }
    pub fn name(&self) -> &'static str {
        self.info.name
    }
    pub fn direction(&self) -> Direction {
        self.info.direction()
    }
    /// Number of parameters present in the record (may be fewer than the table's).
    pub fn nparams(&self) -> usize {
        self.nparams as usize
    }

    fn len_width(&self) -> usize {
        if self.large { 4 } else { 2 }
    }

    fn param_len(&self, i: usize) -> usize {
        let off = HEADER_LEN + i * self.len_width();
        if self.large {
            u32_at(self.record, off) as usize
        } else {
            usize::from(u16_at(self.record, off))
        }
    }

    /// Raw bytes of parameter `i`; `None` when the record has fewer parameters. A present but
    /// empty parameter is `Some(&[])`.
    pub fn param(&self, i: usize) -> Option<&'a [u8]> {
        if i >= self.nparams() {
            return None;
        }
        if i < STARTS {
            return Some(&self.record[self.starts[i] as usize..self.starts[i + 1] as usize]);
        }
        // past the kept offsets: walk the lengths from the last one
        let mut off = self.starts[STARTS] as usize;
        for k in STARTS..i {
            off += self.param_len(k);
        }
        Some(&self.record[off..off + self.param_len(i)])
    }

    /// All parameters present, in order.
    pub fn params(&self) -> Params<'a> {
        Params {
            event: *self,
            index: 0,
            offset: HEADER_LEN + self.nparams() * self.len_width(),
        }
    }

    /// Raw bytes of the parameter named `name` in the table.
    pub fn param_by_name(&self, name: &str) -> Option<&'a [u8]> {
        self.info.param_index(name).and_then(|i| self.param(i))
    }

    /// Parameter `i` as a non-empty value of exactly `N` bytes; `Ok(None)` when absent or empty.
    fn fixed<const N: usize>(&self, i: usize) -> Result<Option<[u8; N]>, DecodeError> {
        match self.param(i) {
            None | Some([]) => Ok(None),
            Some(b) => b.try_into().map(Some).map_err(|_| DecodeError::ParamSize {
                event_type: self.event_type(),
                param: i,
                found: b.len(),
                expected: N,
            }),
        }
    }

    pub fn param_u8(&self, i: usize) -> Result<Option<u8>, DecodeError> {
        Ok(self.fixed::<1>(i)?.map(|b| b[0]))
    }
    pub fn param_u16(&self, i: usize) -> Result<Option<u16>, DecodeError> {
        Ok(self.fixed::<2>(i)?.map(u16::from_le_bytes))
    }
    pub fn param_u32(&self, i: usize) -> Result<Option<u32>, DecodeError> {
        Ok(self.fixed::<4>(i)?.map(u32::from_le_bytes))
    }
    pub fn param_i32(&self, i: usize) -> Result<Option<i32>, DecodeError> {
        Ok(self.fixed::<4>(i)?.map(i32::from_le_bytes))
    }
    pub fn param_u64(&self, i: usize) -> Result<Option<u64>, DecodeError> {
        Ok(self.fixed::<8>(i)?.map(u64::from_le_bytes))
    }
    pub fn param_i64(&self, i: usize) -> Result<Option<i64>, DecodeError> {
        Ok(self.fixed::<8>(i)?.map(i64::from_le_bytes))
    }

    /// Any fixed-size integer parameter widened to `u64` per the table's type (signed types
    /// sign-extended, then reinterpreted). `Ok(None)` when absent or empty.
    pub fn param_uint(&self, i: usize) -> Result<Option<u64>, DecodeError> {
        let ptype = self.info.params.get(i).map(|p| p.ptype);
        let Some(b) = self.param(i).filter(|b| !b.is_empty()) else {
            return Ok(None);
        };
        let expected = ptype.and_then(ParamType::fixed_size).unwrap_or(b.len());
        let signed = matches!(
            ptype,
            Some(ParamType::Int8 | ParamType::Int16 | ParamType::Int32)
        );
        let v = match (b.len(), expected) {
            (1, 1) if signed => b[0] as i8 as i64 as u64,
            (1, 1) => u64::from(b[0]),
            (2, 2) if signed => i16::from_le_bytes([b[0], b[1]]) as i64 as u64,
            (2, 2) => u64::from(u16_at(b, 0)),
            (4, 4) if signed => i32::from_le_bytes(b.try_into().expect("4")) as i64 as u64,
            (4, 4) => u64::from(u32_at(b, 0)),
            (8, 8) => u64_at(b, 0),
            (found, expected) => {
                return Err(DecodeError::ParamSize {
                    event_type: self.event_type(),
                    param: i,
                    found,
                    expected,
                });
            }
        };
        Ok(Some(v))
    }

    /// A NUL-terminated string parameter (CHARBUF, FSPATH, FSRELPATH) without its terminator
    /// (everything up to the first NUL). `None` when absent or empty.
    pub fn param_cstr(&self, i: usize) -> Option<&'a [u8]> {
        let b = self.param(i).filter(|b| !b.is_empty())?;
        Some(match memchr::memchr(0, b) {
            Some(n) => &b[..n],
            None => b,
        })
    }

    /// [`Event::param_cstr`] as UTF-8; invalid UTF-8 is an error.
    pub fn param_str(&self, i: usize) -> Result<Option<&'a str>, DecodeError> {
        self.param_cstr(i)
            .map(|b| {
                std::str::from_utf8(b).map_err(|_| DecodeError::BadParam {
                    event_type: self.event_type(),
                    param: i,
                    reason: "string is not valid UTF-8",
                })
            })
            .transpose()
    }

    /// A SOCKADDR parameter. `Ok(None)` when absent or empty.
    pub fn param_sockaddr(&self, i: usize) -> Result<Option<SockAddr<'a>>, DecodeError> {
        let Some(b) = self.param(i).filter(|b| !b.is_empty()) else {
            return Ok(None);
        };
        let size_err = |expected| DecodeError::ParamSize {
            event_type: self.event_type(),
            param: i,
            found: b.len(),
            expected,
        };
        let family = b[0];
        let body = &b[1..];
        Ok(Some(match family {
            PPM_AF_INET => {
                if body.len() < 6 {
                    return Err(size_err(7));
                }
                SockAddr::Inet {
                    ip: body[..4].try_into().expect("4"),
                    port: u16_at(body, 4),
                }
            }
            PPM_AF_INET6 => {
                if body.len() < 18 {
                    return Err(size_err(19));
                }
                SockAddr::Inet6 {
                    ip: body[..16].try_into().expect("16"),
                    port: u16_at(body, 16),
                }
            }
            PPM_AF_UNIX => SockAddr::Unix {
                path: until_nul(body),
            },
            family => SockAddr::Other { family },
        }))
    }

    /// A SOCKTUPLE parameter. `Ok(None)` when absent or empty.
    pub fn param_socktuple(&self, i: usize) -> Result<Option<SockTuple<'a>>, DecodeError> {
        let Some(b) = self.param(i).filter(|b| !b.is_empty()) else {
            return Ok(None);
        };
        let size_err = |expected| DecodeError::ParamSize {
            event_type: self.event_type(),
            param: i,
            found: b.len(),
            expected,
        };
        let family = b[0];
        let body = &b[1..];
        Ok(Some(match family {
            PPM_AF_INET => {
                if body.len() < 12 {
                    return Err(size_err(13));
                }
                SockTuple::Inet {
                    sip: body[0..4].try_into().expect("4"),
                    sport: u16_at(body, 4),
                    dip: body[6..10].try_into().expect("4"),
                    dport: u16_at(body, 10),
                }
            }
            PPM_AF_INET6 => {
                if body.len() < 36 {
                    return Err(size_err(37));
                }
                SockTuple::Inet6 {
                    sip: body[0..16].try_into().expect("16"),
                    sport: u16_at(body, 16),
                    dip: body[18..34].try_into().expect("16"),
                    dport: u16_at(body, 34),
                }
            }
            PPM_AF_UNIX => {
                if body.len() < 16 {
                    return Err(size_err(17));
                }
                SockTuple::Unix {
                    source: u64_at(body, 0),
                    dest: u64_at(body, 8),
                    path: until_nul(&body[16..]),
                }
            }
            family => SockTuple::Other { family },
        }))
    }

    /// An FDLIST parameter (`u16 count`, then `count × (i64 fd, u16 flags)`).
    pub fn param_fdlist(&self, i: usize) -> Result<Option<FdList<'a>>, DecodeError> {
        let Some(b) = self.param(i).filter(|b| !b.is_empty()) else {
            return Ok(None);
        };
        if b.len() < 2 {
            return Err(DecodeError::ParamSize {
                event_type: self.event_type(),
                param: i,
                found: b.len(),
                expected: 2,
            });
        }
        let count = usize::from(u16_at(b, 0));
        let expected = 2 + count * 10;
        if b.len() < expected {
            return Err(DecodeError::ParamSize {
                event_type: self.event_type(),
                param: i,
                found: b.len(),
                expected,
            });
        }
        Ok(Some(FdList {
            entries: &b[2..expected],
        }))
    }

    /// A DYN parameter: the selected alternative type and its value bytes.
    pub fn param_dyn(&self, i: usize) -> Result<Option<(ParamType, &'a [u8])>, DecodeError> {
        let Some(b) = self.param(i).filter(|b| !b.is_empty()) else {
            return Ok(None);
        };
        let alternatives = match self.info.params.get(i).map(|p| p.extra) {
            Some(ParamExtra::Dyn(alts)) => alts,
            _ => {
                return Err(DecodeError::BadParam {
                    event_type: self.event_type(),
                    param: i,
                    reason: "not a dynamic parameter",
                });
            }
        };
        let alt = alternatives
            .get(usize::from(b[0]))
            .ok_or(DecodeError::BadParam {
                event_type: self.event_type(),
                param: i,
                reason: "dynamic parameter index out of range",
            })?;
        Ok(Some((alt.ptype, &b[1..])))
    }
}

fn until_nul(b: &[u8]) -> &[u8] {
    match memchr::memchr(0, b) {
        Some(n) => &b[..n],
        None => b,
    }
}

/// Iterator over the raw parameters of an event.
pub struct Params<'a> {
    event: Event<'a>,
    index: usize,
    offset: usize,
}

impl<'a> Iterator for Params<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.index >= self.event.nparams() {
            return None;
        }
        let len = self.event.param_len(self.index);
        let value = &self.event.record[self.offset..self.offset + len];
        self.index += 1;
        self.offset += len;
        Some(value)
    }
}

/// A decoded SOCKADDR. IPv4/IPv6 addresses are raw network-order bytes; ports are host order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockAddr<'a> {
    Inet { ip: [u8; 4], port: u16 },
    Inet6 { ip: [u8; 16], port: u16 },
    Unix { path: &'a [u8] },
    Other { family: u8 },
}

/// A decoded SOCKTUPLE (source first, as the driver wrote it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockTuple<'a> {
    Inet {
        sip: [u8; 4],
        sport: u16,
        dip: [u8; 4],
        dport: u16,
    },
    Inet6 {
        sip: [u8; 16],
        sport: u16,
        dip: [u8; 16],
        dport: u16,
    },
    Unix {
        source: u64,
        dest: u64,
        path: &'a [u8],
    },
    Other {
        family: u8,
    },
}

/// A decoded FDLIST: `(fd, flags)` pairs.
#[derive(Debug, Clone, Copy)]
pub struct FdList<'a> {
    entries: &'a [u8],
}

impl<'a> FdList<'a> {
    pub fn len(&self) -> usize {
        self.entries.len() / 10
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = (i64, u16)> + 'a {
        self.entries
            .chunks_exact(10)
            .map(|c| (u64_at(c, 0) as i64, u16_at(c, 8)))
    }
}

/// Encodes a record with the v2 header: the inverse of [`Event::decode`]. Parameter lengths
/// are `u32` when the type has `EF_LARGE_PAYLOAD`, `u16` otherwise (values longer than 65535
/// bytes are truncated for those, as the driver caps them).
pub fn encode(ts: u64, tid: u64, event_type: u16, params: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(&mut out, ts, tid, event_type, params);
    out
}

/// [`encode`] appending to `out`.
pub fn encode_into(out: &mut Vec<u8>, ts: u64, tid: u64, event_type: u16, params: &[&[u8]]) {
    let large = table::by_code(event_type).is_some_and(|e| e.is_large_payload());
    let width = if large { 4 } else { 2 };
    let cap = if large {
        u32::MAX as usize
    } else {
        u16::MAX as usize
    };
    let values: usize = params.iter().map(|p| p.len().min(cap)).sum();
    let len = HEADER_LEN + params.len() * width + values;
    out.reserve(len);
    out.extend_from_slice(&ts.to_le_bytes());
    out.extend_from_slice(&tid.to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&event_type.to_le_bytes());
    out.extend_from_slice(&(params.len() as u32).to_le_bytes());
    for p in params {
        let n = p.len().min(cap);
        if large {
            out.extend_from_slice(&(n as u32).to_le_bytes());
        } else {
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
    }
    for p in params {
        out.extend_from_slice(&p[..p.len().min(cap)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record built byte by byte, independent of [`encode`].
    fn open_x_record() -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&1_470_327_477_881_785_348u64.to_le_bytes()); // ts
        r.extend_from_slice(&20072u64.to_le_bytes()); // tid
        let values: Vec<&[u8]> = vec![
            &[3, 0, 0, 0, 0, 0, 0, 0], // fd = 3
            b"/etc/ld.so.cache\0",     // name
            &[0x01, 0x10, 0, 0],       // flags = O_RDONLY|O_CLOEXEC
            &[0, 0, 0, 0],             // mode
        ];
        let len = 26 + 2 * values.len() + values.iter().map(|v| v.len()).sum::<usize>();
        r.extend_from_slice(&(len as u32).to_le_bytes());
        r.extend_from_slice(&3u16.to_le_bytes()); // SYSCALL_OPEN_X
        r.extend_from_slice(&4u32.to_le_bytes());
        for v in &values {
            r.extend_from_slice(&(v.len() as u16).to_le_bytes());
        }
        for v in &values {
            r.extend_from_slice(v);
        }
        r
    }

    #[test]
    fn decodes_hand_built_open_exit() {
        let r = open_x_record();
        let e = Event::decode(&r).unwrap();
        assert_eq!(e.ts(), 1_470_327_477_881_785_348);
        assert_eq!(e.tid(), 20072);
        assert_eq!(e.name(), "open");
        assert_eq!(e.direction(), Direction::Exit);
        assert_eq!(e.nparams(), 4);
        assert_eq!(e.param_i64(0).unwrap(), Some(3));
        assert_eq!(e.param_str(1).unwrap(), Some("/etc/ld.so.cache"));
        assert_eq!(e.param_u32(2).unwrap(), Some(0x1001));
        assert_eq!(e.param_uint(3).unwrap(), Some(0));
        // dev and ino are in the table but not in this old record
        assert_eq!(e.param(4), None);
        assert_eq!(e.param_u32(4).unwrap(), None);
        assert_eq!(e.param_by_name("name"), Some(&b"/etc/ld.so.cache\0"[..]));
        assert_eq!(e.params().count(), 4);
        assert_eq!(
            encode(e.ts(), e.tid(), 3, &e.params().collect::<Vec<_>>()),
            r
        );
    }

    #[test]
    fn padding_after_record_is_ignored() {
        let mut r = open_x_record();
        let len = r.len();
        r.extend_from_slice(&[0, 0, 0]);
        assert_eq!(Event::decode(&r).unwrap().len(), len);
    }

    #[test]
    fn size_mismatches_report_found_and_expected() {
        let r = open_x_record();
        let e = Event::decode(&r).unwrap();
        assert_eq!(
            e.param_u32(0),
            Err(DecodeError::ParamSize {
                event_type: 3,
                param: 0,
                found: 8,
                expected: 4
            })
        );
        assert_eq!(
            Event::decode(&r[..20]).unwrap_err(),
            DecodeError::TooShort {
                found: 20,
                expected: 26
            }
        );
        assert_eq!(
            Event::decode(&r[..40]).unwrap_err(),
            DecodeError::Truncated {
                len: r.len(),
                available: 40
            }
        );
        let mut bad = r.clone();
        bad[26] = 9; // first length 8 -> 9
        assert_eq!(
            Event::decode(&bad).unwrap_err(),
            DecodeError::ParamLengths {
                event_type: 3,
                found: r.len() - 34 + 1,
                expected: r.len() - 34
            }
        );
        let mut unknown = r.clone();
        unknown[20..22].copy_from_slice(&454u16.to_le_bytes());
        assert_eq!(
            Event::decode(&unknown).unwrap_err(),
            DecodeError::UnknownType { event_type: 454 }
        );
    }

    #[test]
    fn every_parameter_is_found_past_the_kept_offsets() {
        // EXECVE_19_X (293) carries more parameters than an event keeps offsets for; empty
        // ones in between and at the end
        let params: Vec<Vec<u8>> = (0..STARTS + 5)
            .map(|i| vec![i as u8; if i % 3 == 1 { 0 } else { i + 1 }])
            .collect();
        let refs: Vec<&[u8]> = params.iter().map(Vec::as_slice).collect();
        let r = encode(1, 2, 293, &refs);
        let e = Event::decode(&r).unwrap();
        assert_eq!(e.nparams(), params.len());
        for (i, p) in params.iter().enumerate() {
            assert_eq!(e.param(i), Some(p.as_slice()), "parameter {i}");
        }
        assert_eq!(e.param(params.len()), None);
        // and with fewer parameters than kept offsets
        let r = encode(1, 2, 293, &refs[..3]);
        let e = Event::decode(&r).unwrap();
        assert_eq!(e.param(2), Some(params[2].as_slice()));
        assert_eq!(e.param(3), None);
    }

    #[test]
    fn large_payload_uses_u32_lengths() {
        // CONTAINER_JSON_2_E (324) with one 70000-byte parameter.
        let json = vec![b'x'; 70_000];
        let r = encode(1, u64::MAX, 324, &[&json]);
        assert_eq!(u32_at(&r, 26), 70_000);
        assert_eq!(r.len(), 26 + 4 + 70_000);
        let e = Event::decode(&r).unwrap();
        assert_eq!(e.param(0).unwrap().len(), 70_000);
        assert_eq!(e.tid(), u64::MAX);
    }

    #[test]
    fn sockets_and_fdlists() {
        // connect exit: res, tuple (INET), fd, addr (INET)
        let mut tuple = vec![PPM_AF_INET, 127, 0, 0, 1];
        tuple.extend_from_slice(&40000u16.to_le_bytes());
        tuple.extend_from_slice(&[10, 0, 0, 2]);
        tuple.extend_from_slice(&443u16.to_le_bytes());
        let mut addr = vec![PPM_AF_INET, 10, 0, 0, 2];
        addr.extend_from_slice(&443u16.to_le_bytes());
        let r = encode(
            5,
            6,
            23,
            &[&0i64.to_le_bytes(), &tuple, &4i64.to_le_bytes(), &addr],
        );
        let e = Event::decode(&r).unwrap();
        assert_eq!(
            e.param_socktuple(1).unwrap(),
            Some(SockTuple::Inet {
                sip: [127, 0, 0, 1],
                sport: 40000,
                dip: [10, 0, 0, 2],
                dport: 443
            })
        );
        assert_eq!(
            e.param_sockaddr(3).unwrap(),
            Some(SockAddr::Inet {
                ip: [10, 0, 0, 2],
                port: 443
            })
        );
        let short = encode(5, 6, 23, &[&0i64.to_le_bytes(), &tuple[..5]]);
        let e = Event::decode(&short).unwrap();
        assert_eq!(
            e.param_socktuple(1),
            Err(DecodeError::ParamSize {
                event_type: 23,
                param: 1,
                found: 5,
                expected: 13
            })
        );
        let mut unix = vec![PPM_AF_UNIX];
        unix.extend_from_slice(&0xaau64.to_le_bytes());
        unix.extend_from_slice(&0xbbu64.to_le_bytes());
        unix.extend_from_slice(b"/run/x.sock\0");
        let r = encode(5, 6, 23, &[&0i64.to_le_bytes(), &unix]);
        assert_eq!(
            Event::decode(&r).unwrap().param_socktuple(1).unwrap(),
            Some(SockTuple::Unix {
                source: 0xaa,
                dest: 0xbb,
                path: b"/run/x.sock"
            })
        );
        // poll exit: res, fds, timeout
        let mut fds = 2u16.to_le_bytes().to_vec();
        fds.extend_from_slice(&3i64.to_le_bytes());
        fds.extend_from_slice(&1u16.to_le_bytes());
        fds.extend_from_slice(&(-1i64).to_le_bytes());
        fds.extend_from_slice(&4u16.to_le_bytes());
        let r = encode(1, 1, 81, &[&1i64.to_le_bytes(), &fds, &0i64.to_le_bytes()]);
        let list = Event::decode(&r).unwrap().param_fdlist(1).unwrap().unwrap();
        assert_eq!(list.iter().collect::<Vec<_>>(), [(3, 1), (-1, 4)]);
    }

    #[test]
    fn dynamic_params_select_their_type() {
        // ptrace exit: res, addr:DYN, data:DYN, request, pid
        let mut addr = vec![0u8]; // PPM_PTRACE_IDX_UINT64
        addr.extend_from_slice(&0x1000u64.to_le_bytes());
        let r = encode(1, 1, 169, &[&0i64.to_le_bytes(), &addr]);
        let e = Event::decode(&r).unwrap();
        let (t, v) = e.param_dyn(1).unwrap().unwrap();
        assert_eq!(t, ParamType::Uint64);
        assert_eq!(v, 0x1000u64.to_le_bytes());
        assert!(e.param_dyn(0).is_err());
    }
}
