//! Event sources behind one `Driver` interface: libbpf-rs, aya, replay and nodriver; the /proc
//! scan that seeds state. Knows nothing about rules or outputs.

pub mod replay;
