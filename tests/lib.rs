//! Integration tests: one binary, one module per surface.

mod goldens;
mod util;
