//! The part of router-sync the benchmarks share: its vtysh session, so
//! benchmark 6 times exactly what the service runs.

pub mod vtysh;
