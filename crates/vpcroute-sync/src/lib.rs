//! router-sync's pure logic, no I/O:
//! - [`frrconf`]: the part of an FRR configuration vpcroute manages, parsed
//!   from rendered text or from `show running-config`;
//! - [`plan`]: the smallest ordered list of vtysh commands that turns the
//!   running configuration into the desired one;
//! - [`ospf_state`]: neighbours, routes and summaries from FRR's JSON;
//! - [`redact`]: command text made safe for logs (keys removed);
//! - [`summaries`]: the VPC ranges a router must originate;
//! - [`machine`]: one router's decisions as a state machine (inputs in,
//!   actions and status out);
//! - [`firewall_listing`]: comparing nftables listings;
//! - [`session`]: framing commands to one long-lived vtysh and splitting
//!   its output back into answers.

pub mod firewall_listing;
pub mod frrconf;
pub mod machine;
pub mod ospf_state;
pub mod plan;
pub mod redact;
pub mod session;
pub mod summaries;

pub use frrconf::FrrConfig;
pub use machine::{Action, DesiredAnswer, Input, RouterMachine, Timings};
pub use plan::{plan, plan_new_version, Plan};
