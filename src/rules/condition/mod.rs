//! The condition language: lexer, parser, AST with positions, list and macro expansion.
//! Knows nothing about field values.
