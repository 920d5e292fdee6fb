//! Every NATS subject vpcroute uses, in one place.
//!
//! Layout: `vpcroute.<service>.<object>.<verb>` for requests and
//! `vpcroute.events.<service>.<event_type>` for published events, so that a
//! NATS permission such as `vpcroute.ipam.>` or `vpcroute.events.>` grants
//! exactly one service's requests or every event feed.

/// Prefix of all vpcroute subjects.
pub const ROOT: &str = "vpcroute";

/// Requests served by `ipam`.
pub mod ipam {
    pub const SERVICE_NAME: &str = "vpcroute-ipam";
    pub const ZONE_ENABLE: &str = "vpcroute.ipam.zone.enable";
    pub const ZONE_UPDATE: &str = "vpcroute.ipam.zone.update";
    pub const ZONE_SHOW: &str = "vpcroute.ipam.zone.show";
    pub const VPC_ALLOCATE: &str = "vpcroute.ipam.vpc.allocate";
    pub const VPC_RELEASE: &str = "vpcroute.ipam.vpc.release";
    pub const VPC_SHOW: &str = "vpcroute.ipam.vpc.show";
    pub const TIER_ALLOCATE: &str = "vpcroute.ipam.tier.allocate";
    pub const TIER_RELEASE: &str = "vpcroute.ipam.tier.release";
    pub const VM_ALLOCATE: &str = "vpcroute.ipam.vm.allocate";
    pub const VM_RELEASE: &str = "vpcroute.ipam.vm.release";
    /// Where a VM is: its address, tier, VPC and zone.
    pub const VM_SHOW: &str = "vpcroute.ipam.vm.show";
    /// Network ACL lists (see `vpcroute_protocol::acl`).
    pub const ACL_CREATE: &str = "vpcroute.ipam.acl.create";
    pub const ACL_DELETE: &str = "vpcroute.ipam.acl.delete";
    pub const ACL_SHOW: &str = "vpcroute.ipam.acl.show";
    pub const ACL_RULE_ADD: &str = "vpcroute.ipam.acl.rule.add";
    pub const ACL_RULE_DELETE: &str = "vpcroute.ipam.acl.rule.delete";
    /// Attach a list to a tier.
    pub const TIER_SET_ACL: &str = "vpcroute.ipam.tier.set_acl";
    /// Catch-up reads of the ipam event log by consumers.
    pub const EVENTS_READ: &str = "vpcroute.ipam.events.read";
    /// Where ipam publishes its events; the event type is the last token.
    pub const EVENTS_PREFIX: &str = "vpcroute.events.ipam";
}

/// Requests served by `area-registry`.
pub mod areas {
    pub const SERVICE_NAME: &str = "vpcroute-area-registry";
    /// Create or change a zone's OSPF settings.
    pub const ZONE_SET: &str = "vpcroute.areas.zone.set";
    /// A zone's settings (without key) and its VPCs' areas.
    pub const ZONE_SHOW: &str = "vpcroute.areas.zone.show";
    /// One VPC's area.
    pub const VPC_SHOW: &str = "vpcroute.areas.vpc.show";
    /// Catch-up reads of the registry's log. Replies hold OSPF keys: only
    /// the config-renderer is allowed this subject.
    pub const EVENTS_READ: &str = "vpcroute.areas.events.read";
    /// Published events, keys redacted.
    pub const EVENTS_PREFIX: &str = "vpcroute.events.areas";
}

/// Requests served by `config-renderer`.
pub mod config {
    pub const SERVICE_NAME: &str = "vpcroute-config-renderer";
    /// The current configuration of one router (text holds the key).
    pub const ROUTER_GET: &str = "vpcroute.config.router.get";
    /// Every router with its current version.
    pub const ROUTER_LIST: &str = "vpcroute.config.router.list";
    pub const EVENTS_READ: &str = "vpcroute.config.events.read";
    pub const EVENTS_PREFIX: &str = "vpcroute.events.config";
    /// `vpcroute.config.updated.<router>`: a router has a new version.
    pub const UPDATED_PREFIX: &str = "vpcroute.config.updated";

    pub fn updated(router: &str) -> String {
        format!("{UPDATED_PREFIX}.{router}")
    }
}

/// Requests served by `router-sync`.
///
/// Several instances may run (docker-compose runs one beside each router),
/// each managing its own routers with its own event log. A request about a
/// router therefore goes to a subject of that router, to which only the
/// instance managing it subscribes: a router no instance manages gets
/// NATS's immediate "no responders" instead of a wrong instance's
/// `unknown_router`. An instance's log is read on a subject of the
/// instance, and its events carry the instance in their subject, since
/// each log numbers its events from 1.
pub mod sync {
    pub const SERVICE_NAME: &str = "vpcroute-router-sync";
    /// `vpcroute.sync.router.status.<router>`: one router's status
    /// (`RouterStatus`), answered by the instance that manages it.
    pub const ROUTER_STATUS_PREFIX: &str = "vpcroute.sync.router.status";
    /// `vpcroute.sync.events.read.<instance>`: catch-up reads of one
    /// instance's event log.
    pub const EVENTS_READ_PREFIX: &str = "vpcroute.sync.events.read";
    /// Events of every instance: `vpcroute.events.sync.<instance>.<type>`.
    pub const EVENTS_PREFIX: &str = "vpcroute.events.sync";
    /// `vpcroute.sync.status.<router>`: published after every check.
    pub const STATUS_PREFIX: &str = "vpcroute.sync.status";

    pub fn router_status(router: &str) -> String {
        format!("{ROUTER_STATUS_PREFIX}.{router}")
    }

    pub fn events_read(instance: &str) -> String {
        format!("{EVENTS_READ_PREFIX}.{instance}")
    }

    /// Where `instance` publishes its events (the event type follows).
    pub fn events_prefix(instance: &str) -> String {
        format!("{EVENTS_PREFIX}.{instance}")
    }

    pub fn status(router: &str) -> String {
        format!("{STATUS_PREFIX}.{router}")
    }

    /// Whether `name` can name an instance: one subject token of the
    /// characters NATS Services API names allow.
    pub fn check_instance(name: &str) -> Result<(), String> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if ok {
            Ok(())
        } else {
            Err(format!(
                "instance name {name:?} must be 1-64 characters of letters, digits, '-', '_'"
            ))
        }
    }

    /// Every router's status publications (the config-renderer follows
    /// them to advance MD5 key rotations).
    pub fn all_status() -> String {
        format!("{STATUS_PREFIX}.*")
    }
}

/// `$SRV.PING.<service>`: the NATS Services API's liveness probe, answered
/// by every running instance of `service` (its `SERVICE_NAME`). `vpcctl
/// ping` sends it; the containers' healthchecks run that with the service's
/// own NATS user, allowed to publish only its own name's ping.
pub fn service_ping(service: &str) -> String {
    format!("$SRV.PING.{service}")
}

/// The subject on which `service` publishes an event of `event_type`.
pub fn event_subject(events_prefix: &str, event_type: &str) -> String {
    format!("{events_prefix}.{event_type}")
}

/// A wildcard matching every event `service` publishes.
pub fn all_events(events_prefix: &str) -> String {
    format!("{events_prefix}.>")
}

/// Whether NATS subject `subject` matches `pattern` (`*` one token, `>`
/// one or more trailing tokens), as the server decides.
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_subjects_sit_under_their_prefix() {
        assert_eq!(
            event_subject(ipam::EVENTS_PREFIX, "vpc_allocated"),
            "vpcroute.events.ipam.vpc_allocated"
        );
        assert_eq!(all_events(ipam::EVENTS_PREFIX), "vpcroute.events.ipam.>");
    }

    #[test]
    fn nats_wildcards() {
        assert!(subject_matches(
            "vpcroute.events.ipam.>",
            "vpcroute.events.ipam.vpc_allocated"
        ));
        assert!(!subject_matches(
            "vpcroute.events.ipam.>",
            "vpcroute.events.ipam"
        ));
        assert!(!subject_matches(
            "vpcroute.events.ipam.>",
            "vpcroute.events.areas.x"
        ));
        assert!(subject_matches(
            "vpcroute.*.zone.show",
            "vpcroute.ipam.zone.show"
        ));
        assert!(!subject_matches(
            "vpcroute.*.zone.show",
            "vpcroute.ipam.zone.show.x"
        ));
        assert!(subject_matches("a.b", "a.b"));
        assert!(!subject_matches("a.b", "a.c"));
    }
}
