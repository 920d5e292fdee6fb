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
