//! The part of router-sync the benchmarks share (its vtysh session, so
//! benchmark 6 times exactly what the service runs), and the operator
//! command lines every router client (vtysh, nft) is started from.

pub mod command;
pub mod vtysh;
