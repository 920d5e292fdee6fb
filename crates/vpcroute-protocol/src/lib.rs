//! The wire format of vpcroute: every request, reply, error and event that
//! crosses NATS is a type in this crate, and `schemas/` holds the JSON Schema
//! of each. Services and `vpcctl` share these types so the two ends of a
//! subject can never disagree on a field name.
//!
//! This crate is data only: no I/O, no NATS, no SQLite.

pub mod acl;
pub mod areas;
pub mod cloudstack;
pub mod config;
pub mod error;
pub mod event;
pub mod ipam;
pub mod names;
pub mod page;
pub mod service;
pub mod sync;

pub use error::{ErrorBody, ErrorCode, Reply};
pub use event::BusEvent;
pub use page::{Page, PagedShow};
