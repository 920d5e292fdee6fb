//! The rule for the names of zones, VPCs, tiers and VMs on the wire.
//!
//! Names end up in stream ids, log lines and interface descriptions, so
//! they are kept to printable, unambiguous characters (CloudStack's UUIDs
//! and ordinary names both fit).

/// Checks a name; the error says what a `kind` name must look like.
pub fn check_name(kind: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{kind} name {:?} must be 1-255 characters of letters, digits, '-', '_', '.', ':'",
            crate::error::clip(name, 64)
        ))
    }
}

/// The renderer's rules for what a router model may hold (interface names,
/// host names, router ids, uplink against VPC block): one copy, which ipam
/// applies at the request and the renderer at render time.
pub use vpcroute_render::rules::{
    check_hostname, check_interface_name, check_router_id, check_uplink_outside_vpc,
};
pub use vpcroute_render::RenderError as ModelRuleError;
