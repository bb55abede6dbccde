//! The condition language: lexer and parser (a port of libsinsp's parser, quirks included) to an
//! AST with positions. List substitution and macro expansion live in the rules compiler; typed
//! compilation lives in `engine`. Knows nothing about field values.

mod ast;
mod parse;

pub use ast::{Expr, Pos};
pub use parse::{MAX_DEPTH, ParseError, parse, parse_field_or_transformer};
