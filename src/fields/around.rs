//! `evt.around[T] = D` (libsinsp `sinsp_filter_check_event`, `TYPE_AROUND`; filter-only): true
//! for events within D milliseconds of the time T (ns, as `%evt.rawtime` prints it). Only `=`
//! is accepted. The condition compiler turns the comparison into a presence check of the field
//! with the window as its argument ([`window`]), which the extractor tests ([`matches`]).

use super::{FieldArg, FieldRef};

/// `sinsp_numparser::parseu64`: `sscanf("%lu%c")` must read the number and nothing after it.
fn parse_u64(text: &str) -> Result<u64, String> {
    let bad = || format!("{text} is not a valid number");
    let t = text.trim_start();
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    Ok(if negative { n.wrapping_neg() } else { n })
}

/// The field reference a condition `evt.around[T] = D` checks for presence: `T` and the
/// delta in ns (`D * 1000000`, wrapping as libsinsp's u64 arithmetic does) as its argument.
pub fn window(field: &FieldRef, delta_ms: &str) -> Result<FieldRef, String> {
    let t = match &field.arg {
        Some(FieldArg::Index(t)) => *t as u64,
        Some(FieldArg::Key(k)) => parse_u64(k)?,
        None => return Err("evt.around requires an argument".into()),
    };
    let delta_ns = parse_u64(delta_ms)?.wrapping_mul(1_000_000);
    Ok(FieldRef::new(
        field.info,
        Some(FieldArg::Key(format!("{t},{delta_ns}"))),
    ))
}

/// Whether an event at `ts` is inside the window of `arg` (made by [`window`]): libsinsp's
/// `T >= ts - delta && T <= ts + delta` in wrapping u64 arithmetic. None for any other
/// argument (an output of the field: it has no value).
pub(crate) fn matches(arg: Option<&FieldArg>, ts: u64) -> Option<bool> {
    let Some(FieldArg::Key(k)) = arg else {
        return None;
    };
    let (t, delta) = k.split_once(',')?;
    let (t, delta): (u64, u64) = (t.parse().ok()?, delta.parse().ok()?);
    Some(t >= ts.wrapping_sub(delta) && t <= ts.wrapping_add(delta))
}
