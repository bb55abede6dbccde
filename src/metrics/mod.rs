//! The Prometheus registry: Falco's metric names, types and labels. Knows nothing about sinks.
