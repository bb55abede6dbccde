//! Command line: clap definitions with Falco's spelling. Knows nothing about how anything runs.
