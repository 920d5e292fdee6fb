//! The `ipam` state machine, holo-style: a pure value that
//! - *decides*: a command against the current state yields the events that
//!   record its effect and the reply, or a typed error and no change;
//! - *applies*: an event moves the state forward. Applying is the only way
//!   the state changes, live and on replay alike, so the state after a
//!   restart is by construction the state before it.
//!
//! No I/O, no clocks, no async: the service owns the event log and NATS.

mod error;
mod state;

pub use error::IpamError;
pub use state::{Command, Decision, IpamState, Position};
