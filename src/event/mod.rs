//! The event table pinned by Falco 0.44.1 (codes, names, directions, parameters) and
//! zero-copy decoding of event records. Knows nothing about state.

pub mod table;
