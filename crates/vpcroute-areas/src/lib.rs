//! The `area-registry` state machine, in the same shape as `vpcroute-ipam`:
//! a pure value that
//! - *decides*: a `zone.set` request against the current state yields the
//!   events that record it and the reply, or a typed error and no change;
//! - *derives*: an ipam event (a VPC allocated or released) yields the
//!   area events it causes, idempotently;
//! - *applies*: an event moves the state forward, live and on replay alike.
//!
//! Area ids are unique across all zones, never the backbone of any zone and
//! never reused: they come from one counter that only goes up, and the ids
//! chosen are written into the events, so replay never re-chooses them.
//!
//! OSPF keys: kept in the state (the renderer needs them), never in an
//! error message, a view or `Debug` output (`Secret` prints `***`).
//!
//! No I/O, no clocks, no randomness: a generated key comes from a closure
//! the caller passes in.

mod error;
mod state;

#[cfg(test)]
mod tests;

pub use error::AreaError;
pub use state::{zone_set_fingerprint, AreaState, Decision, Dump, ZoneDump, KEY_LEN};
