//! The config-renderer state machine.
//!
//! Inputs are two other services' event logs: ipam (zones, VPCs with their
//! virtual router, tiers) and the area registry (each zone's OSPF settings,
//! each VPC's area). Output is, per virtual router, a configuration that
//! is rendered on demand by `vpcroute-render` and *versioned*: the version
//! starts at 1 and goes up by one exactly when the rendered text (FRR or
//! Quagga) changes.
//!
//! Like every vpcroute state machine it is pure and split in two:
//! [`RendererState::on_ipam`] / [`RendererState::on_area`] decide which
//! [`ConfigEvent`]s an input produces (without changing anything), and
//! [`RendererState::apply`] moves the state by one recorded event. The
//! service records the events in its own log; replaying them rebuilds the
//! same state, so versions survive restarts.
//!
//! # When a router is renderable
//!
//! A router is rendered when all of these hold:
//! * its VPC (ipam `vpc_allocated`) carries a router spec (name, router
//!   id, uplink interface and address);
//! * the VPC is IPv4: OSPFv2 carries IPv4 only, so an IPv6 VPC's router is
//!   never rendered (`not_ready`, saying so);
//! * the area registry assigned the VPC an area (`area_assigned`), for the
//!   same zone, after this incarnation of the VPC was allocated (its
//!   `ipam_seq` is at least the seq of the `vpc_allocated`), so a stale
//!   area of a deleted VPC of the same name is never used;
//! * the VPC's zone has OSPF settings (`zone_ospf_set`);
//! * and `vpcroute-render` accepts the model (for FRR; a model Quagga cannot
//!   express, e.g. a retransmit interval below 3, is still rendered for FRR
//!   and `router_config(.., Quagga)` says why it cannot be).
//!
//! Tiers: a tier contributes an interface only when ipam recorded the VR
//! interface that serves it (`tier_allocated.interface`). A tier without
//! one is not on the VR as far as vpcroute knows, so it is left out of the
//! configuration (its addresses are still covered by the VPC's
//! `area X range`).
//!
//! A router that was rendered and whose inputs stop being renderable (for
//! instance its area was retired before ipam's `vpc_released` was read)
//! keeps its last version and configuration: a VR is never told to drop
//! its routing because of a transient inconsistency between two logs. It is
//! removed (`router_removed`) when its VPC is released in ipam. If a router
//! of the same name comes back later, its versions continue from the last
//! one (a syncer that cached version 3 never sees a "new" version 1).
//!
//! # Secrets
//!
//! Area inputs carry the zone's OSPF key and are recorded in the service's
//! private log as they are. [`ConfigEvent::redacted`] is what may be shown
//! or published. No `Debug` output and no error message holds a key.

mod error;
pub mod rotation;
mod state;

pub use error::ConfigError;
pub use state::{fingerprint, is_redacted, RendererState, RouterDump, StateDump, VpcDump};
/// The config-renderer's log events are bus messages: they live in the
/// protocol crate.
pub use vpcroute_protocol::config::ConfigEvent;
