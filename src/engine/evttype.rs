//! Event-code extraction from a condition (libsinsp `ppm_event_codes`): which event codes can
//! possibly match, pushing negation to the leaves.

use crate::event::table;
use crate::rules::condition::Expr;

/// Highest event code + 1 that the set can hold.
pub const MAX_CODES: usize = 512;

/// A set of event codes.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeSet([u64; MAX_CODES / 64]);

impl std::fmt::Debug for CodeSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl CodeSet {
    pub fn empty() -> CodeSet {
        CodeSet([0; MAX_CODES / 64])
    }

    /// Every code of the event table.
    pub fn all() -> CodeSet {
        let mut s = CodeSet::empty();
        for c in 0..num_codes() {
            s.insert(c);
        }
        s
    }

    pub fn insert(&mut self, c: u16) {
        if (c as usize) < MAX_CODES {
            self.0[c as usize / 64] |= 1 << (c % 64);
        }
    }

    pub fn contains(&self, c: u16) -> bool {
        (c as usize) < MAX_CODES && self.0[c as usize / 64] & (1 << (c % 64)) != 0
    }

    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (0..MAX_CODES as u16).filter(|c| self.contains(*c))
    }

    fn union(mut self, o: &CodeSet) -> CodeSet {
        for (a, b) in self.0.iter_mut().zip(o.0.iter()) {
            *a |= *b;
        }
        self
    }

    fn intersect(mut self, o: &CodeSet) -> CodeSet {
        for (a, b) in self.0.iter_mut().zip(o.0.iter()) {
            *a &= *b;
        }
        self
    }

    fn complement(&self) -> CodeSet {
        let all = CodeSet::all();
        let mut out = CodeSet::empty();
        for (i, (a, b)) in self.0.iter().zip(all.0.iter()).enumerate() {
            out.0[i] = !a & b;
        }
        out
    }
}

/// Number of event codes in the event table.
pub fn num_codes() -> u16 {
    let mut n = 0u16;
    while (n as usize) < MAX_CODES && table::name_of(n).is_some() {
        n += 1;
    }
    n
}

/// Syscalls without a dedicated event (carried by the generic events).
pub(crate) fn is_syscall_name(name: &str) -> bool {
    table::is_syscall_name(name)
}

fn codes_for_values(values: &[String]) -> CodeSet {
    let mut s = CodeSet::empty();
    for v in values {
        let codes = table::codes_for_name(v);
        if codes.is_empty() && is_syscall_name(v) {
            s.insert(0);
            s.insert(1);
        }
        for c in codes {
            s.insert(c);
        }
    }
    s
}

fn is_evt_type_field(e: &Expr) -> bool {
    matches!(e, Expr::Field { name, arg: None, .. } if name == "evt.type" || name == "syscall.type")
}

/// The event codes a condition can match.
pub fn event_codes(e: &Expr) -> CodeSet {
    codes(e, false)
}

fn codes(e: &Expr, negated: bool) -> CodeSet {
    match e {
        Expr::And(children, _) | Expr::Or(children, _) => {
            let is_and = matches!(e, Expr::And(..));
            let intersect = is_and != negated;
            let mut it = children.iter().map(|c| codes(c, negated));
            let first = it.next().unwrap_or_else(CodeSet::all);
            it.fold(first, |acc, s| {
                if intersect {
                    acc.intersect(&s)
                } else {
                    acc.union(&s)
                }
            })
        }
        Expr::Not(c, _) => codes(c, !negated),
        Expr::Unary { left, .. } if is_evt_type_field(left) => {
            if negated {
                CodeSet::empty()
            } else {
                CodeSet::all()
            }
        }
        Expr::Binary {
            left, op, right, ..
        } if is_evt_type_field(left) => {
            let values: Vec<String> = match right.as_ref() {
                Expr::Value(v, _) => vec![v.clone()],
                Expr::List(vs, _) => vs.clone(),
                _ => return CodeSet::all(),
            };
            let set = match op.as_str() {
                "=" | "==" | "in" => codes_for_values(&values),
                "!=" => codes_for_values(&values).complement(),
                _ => return CodeSet::all(),
            };
            if negated { set.complement() } else { set }
        }
        _ => CodeSet::all(),
    }
}

/// The checks `ppm_event_codes` refuses: `evt.type` compared with a field, or inside a
/// transformer.
pub fn check(e: &Expr) -> Result<(), String> {
    fn has_evt_type(e: &Expr) -> bool {
        match e {
            Expr::Transformer { args, .. } | Expr::TransformerList(args, _) => {
                args.iter().any(has_evt_type)
            }
            other => is_evt_type_field(other),
        }
    }
    match e {
        Expr::And(c, _) | Expr::Or(c, _) => c.iter().try_for_each(check),
        Expr::Not(c, _) => check(c),
        Expr::Binary {
            left, op, right, ..
        } => {
            if let Expr::Transformer { args, .. } = left.as_ref()
                && args.iter().any(has_evt_type)
            {
                return Err(
                    "event code search does not support `evt.type` checks with transformers".into(),
                );
            }
            if is_evt_type_field(left)
                && matches!(op.as_str(), "=" | "==" | "in" | "!=")
                && matches!(
                    right.as_ref(),
                    Expr::Field { .. } | Expr::Transformer { .. }
                )
            {
                return Err("right-hand field comparisons on `evt.type`/`syscall.type` checks are not supported by event code search".into());
            }
            Ok(())
        }
        Expr::Unary { left, .. } => match left.as_ref() {
            Expr::Transformer { args, .. } if args.iter().any(has_evt_type) => {
                Err("event code search does not support `evt.type` checks with transformers".into())
            }
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}
