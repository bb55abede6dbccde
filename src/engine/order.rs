//! Evaluation order of `and`/`or` operands: cheap operands that usually decide the result go
//! first. Checks have no side effects and a missing field makes a check false whatever the
//! order, so reordering changes the cost of an evaluation, never its result.
//!
//! Rules are written for readers: the macro naming the kind of event (`open_read`,
//! `spawned_process`) comes first, the conditions on names and paths that reject almost every
//! event come after. Within a rule's event-type bucket the first kind mostly holds, so a walk
//! in written order pays for it before it reaches the operand that decides. Each operand gets
//! an estimate (how likely it holds, what it costs); an `and` runs its operands by increasing
//! cost per chance of being false, an `or` by increasing cost per chance of being true, the
//! order that minimises the expected cost of independent operands. Equal scores keep the
//! written order.

use super::filter::{Check, CmpOp, Filter};
use crate::fields::{FieldArg, FieldType};

/// How likely a node holds and what evaluating it costs, in units of one direct check.
#[derive(Debug, Clone, Copy)]
struct Estimate {
    pass: f64,
    cost: f64,
}

/// Holds for most events of the bucket: `!=`, `exists`, booleans (mostly the kind of event:
/// `evt.is_open_read`), and the small-domain strings below (flags, fd types) compared with
/// constants.
const USUALLY: f64 = 0.8;
/// Rejects most events: a name, a path or a number compared with constants for equality,
/// membership, prefix, suffix, substring or pattern.
const RARELY: f64 = 0.1;
/// No guess either way: ranges of numbers.
const EVEN: f64 = 0.5;
/// Event-type checks are decided by a table; inside the rule's bucket they mostly hold.
const BY_CODE_PASS: f64 = 0.9;
const BY_CODE_COST: f64 = 0.2;
/// A check through the general path (vector of values, transformers, field on the right).
const GENERAL_COST: f64 = 2.0;
/// Matchers that run a pattern instead of a comparison or a look-up.
const PATTERN_FACTOR: f64 = 3.0;
/// Fields built from more than the event's thread and fd (ancestors, command lines,
/// container and k8s metadata).
const EXPENSIVE_FIELD_COST: f64 = 3.0;

/// String fields with a handful of values: comparing them rejects few events.
const SMALL_DOMAIN: &[&str] = &[
    "evt.category",
    "evt.dir",
    "evt.res",
    "fd.l4proto",
    "fd.sockfamily",
    "fd.type",
    "fd.typechar",
];

/// Event arguments with a handful of values (`evt.arg.flags`, `evt.rawarg.mode`, ...).
const SMALL_DOMAIN_ARGS: &[&str] = &["flags", "mode", "type", "domain", "how", "op", "request"];

/// Prefixes of the fields whose extraction walks or builds more than a value.
const EXPENSIVE_PREFIXES: &[&str] = &[
    "proc.aname",
    "proc.apid",
    "proc.acmdline",
    "proc.aexe",
    "proc.aexepath",
    "proc.cmdline",
    "proc.pcmdline",
    "proc.args",
    "proc.env",
    "proc.exeline",
    "container.",
    "k8s.",
];

/// Orders the operands of every `and`/`or` in `f`.
pub(crate) fn order(f: &mut Filter) {
    ordered(f);
}

/// Orders the operands of every `and`/`or` in `f` (bottom-up) and returns `f`'s estimate.
fn ordered(f: &mut Filter) -> Estimate {
    match f {
        Filter::Check(c) => check_estimate(c),
        Filter::Not(inner) => {
            let e = ordered(inner);
            Estimate {
                pass: 1.0 - e.pass,
                cost: e.cost,
            }
        }
        Filter::Shared(_, inner) => ordered(inner),
        Filter::And(children) => sort_and_combine(children, true),
        Filter::Or(children) => sort_and_combine(children, false),
    }
}

/// Sorts `children` of an `and` (`is_and`) or an `or` and combines their estimates in the new
/// order: an operand runs only when the ones before it did not decide.
fn sort_and_combine(children: &mut Vec<Filter>, is_and: bool) -> Estimate {
    let mut scored: Vec<(Estimate, Filter)> = std::mem::take(children)
        .into_iter()
        .map(|mut c| (ordered(&mut c), c))
        .collect();
    // chance that the operand decides the node: false for an `and`, true for an `or`
    let decides = |e: &Estimate| if is_and { 1.0 - e.pass } else { e.pass };
    let score = |e: &Estimate| e.cost / decides(e).max(0.01);
    scored.sort_by(|a, b| score(&a.0).total_cmp(&score(&b.0)));
    let (mut reach, mut cost) = (1.0, 0.0);
    for (e, _) in &scored {
        cost += reach * e.cost;
        reach *= 1.0 - decides(e);
    }
    children.extend(scored.into_iter().map(|(_, c)| c));
    Estimate {
        pass: if is_and { reach } else { 1.0 - reach },
        cost,
    }
}

fn check_estimate(c: &Check) -> Estimate {
    if c.decided_by_code() {
        return Estimate {
            pass: BY_CODE_PASS,
            cost: BY_CODE_COST,
        };
    }
    let field = c.left.field.info;
    let small_domain = SMALL_DOMAIN.contains(&field)
        || matches!(
            (&c.left.field.arg, field),
            (Some(FieldArg::Key(arg)), "evt.arg" | "evt.rawarg") if SMALL_DOMAIN_ARGS.contains(&arg.as_str())
        );
    let selective = matches!(
        c.op,
        CmpOp::Eq
            | CmpOp::In
            | CmpOp::Intersects
            | CmpOp::StartsWith
            | CmpOp::BStartsWith
            | CmpOp::EndsWith
            | CmpOp::Contains
            | CmpOp::IContains
            | CmpOp::BContains
            | CmpOp::Glob
            | CmpOp::IGlob
            | CmpOp::Regex
            | CmpOp::PMatch
    );
    let pass = if c.left.ftype == FieldType::Bool {
        USUALLY
    } else if selective {
        if small_domain { USUALLY } else { RARELY }
    } else if matches!(c.op, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge) {
        EVEN
    } else {
        USUALLY
    };
    let mut cost = if c.is_direct() { 1.0 } else { GENERAL_COST };
    if matches!(
        c.op,
        CmpOp::Glob | CmpOp::IGlob | CmpOp::Regex | CmpOp::PMatch
    ) {
        cost *= PATTERN_FACTOR;
    }
    if EXPENSIVE_PREFIXES.iter().any(|p| field.starts_with(p)) {
        cost += EXPENSIVE_FIELD_COST;
    }
    Estimate { pass, cost }
}
