//! The embedded webserver (/healthz, /versions, /metrics). Knows nothing about rule internals.
