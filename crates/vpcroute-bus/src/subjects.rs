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
    // Paged reads (`vpcroute_bus::page`): what grows with a zone.
    /// A zone's utilisation and counts, listing nothing.
    pub const ZONE_SUMMARY: &str = "vpcroute.ipam.zone.summary";
    /// Every VPC, tier and VM of a zone, paged (the CloudStack reconciler's
    /// read, and `vpcctl show zone`).
    pub const ZONE_EXPORT: &str = "vpcroute.ipam.zone.export";
    /// One VPC with its tiers and VMs, paged.
    pub const VPC_EXPORT: &str = "vpcroute.ipam.vpc.export";
    /// The ACL lists of a zone's VPCs, paged.
    pub const ACL_LIST: &str = "vpcroute.ipam.acl.list";
    /// Where ipam publishes its events; the event type is the last token.
    pub const EVENTS_PREFIX: &str = "vpcroute.events.ipam";
    /// How far the service has processed its inputs and how its log is
    /// written (`vpcroute_protocol::service::ServiceStatus`).
    pub const SERVICE_STATUS: &str = "vpcroute.ipam.service.status";
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
    /// A zone's settings (without key) and its VPCs' areas, paged.
    pub const ZONE_AREAS: &str = "vpcroute.areas.zone.areas";
    /// Catch-up reads of the registry's log. Replies hold OSPF keys: only
    /// the config-renderer is allowed this subject.
    pub const EVENTS_READ: &str = "vpcroute.areas.events.read";
    /// Published events, keys redacted.
    pub const EVENTS_PREFIX: &str = "vpcroute.events.areas";
    /// How far the service has processed its inputs and how its log is
    /// written (`vpcroute_protocol::service::ServiceStatus`).
    pub const SERVICE_STATUS: &str = "vpcroute.areas.service.status";
}

/// Requests served by `config-renderer`.
pub mod config {
    pub const SERVICE_NAME: &str = "vpcroute-config-renderer";
    /// The current configuration of one router (text holds the key).
    pub const ROUTER_GET: &str = "vpcroute.config.router.get";
    /// Every router with its current version.
    pub const ROUTER_LIST: &str = "vpcroute.config.router.list";
    /// `router.list`, paged.
    pub const ROUTER_PAGE: &str = "vpcroute.config.router.page";
    pub const EVENTS_READ: &str = "vpcroute.config.events.read";
    pub const EVENTS_PREFIX: &str = "vpcroute.events.config";
    /// `vpcroute.config.updated.<router>`: a router has a new version.
    pub const UPDATED_PREFIX: &str = "vpcroute.config.updated";
    /// How far the service has processed its inputs and how its log is
    /// written (`vpcroute_protocol::service::ServiceStatus`).
    pub const SERVICE_STATUS: &str = "vpcroute.config.service.status";

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
    /// `vpcroute.sync.service.status.<instance>`: how far one instance has
    /// got with its routers' configurations, and how its log is written.
    pub const SERVICE_STATUS_PREFIX: &str = "vpcroute.sync.service.status";

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

    pub fn service_status(instance: &str) -> String {
        format!("{SERVICE_STATUS_PREFIX}.{instance}")
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

/// `vpcroute-cloudstack`, the adapter at the CloudStack edge (as vpcctl
/// is), and CloudStack's own events.
///
/// CloudStack's events keep CloudStack's names: the subject is the
/// RabbitMQ routing key `source.category.type.resourceType.resourceUUID`
/// that CloudStack's `RabbitMQEventBus.createRoutingKey` writes, with the
/// source (always `management-server`) replaced by `cloudstack.events`.
/// They sit outside `vpcroute.` because a site may publish them itself
/// (deploy/nats-server.conf's `cloudstack-events` user may publish only
/// there), and the adapter takes all of them in from this one subject.
pub mod cloudstack {
    pub const SERVICE_NAME: &str = "vpcroute-cloudstack";
    /// `cloudstack.events.<category>.<type>.<resourceType>.<uuid>`.
    pub const CS_EVENTS_PREFIX: &str = "cloudstack.events";
    /// The adapter's log events: `vpcroute.events.cloudstack.<event_type>`.
    pub const EVENTS_PREFIX: &str = "vpcroute.events.cloudstack";
    /// NATS header carrying CloudStack's event UUID, where the source knows
    /// it (a webhook's `X-CS-Event-ID`); the same name as CloudStack's.
    pub const EVENT_ID_HEADER: &str = "X-CS-Event-ID";

    /// Every CloudStack event, whatever its source: the adapter's intake.
    pub fn all_cs_events() -> String {
        format!("{CS_EVENTS_PREFIX}.>")
    }

    /// One routing-key part as CloudStack writes it (`replaceNullWithWildcard`
    /// then `.` → `-`): a missing or empty part is `*`.
    pub fn routing_part(part: Option<&str>) -> String {
        match part {
            None | Some("") => "*".to_string(),
            Some(p) => p.replace('.', "-"),
        }
    }

    /// The subject of a CloudStack event from its routing-key parts.
    pub fn cs_event(
        category: Option<&str>,
        event_type: Option<&str>,
        resource_type: Option<&str>,
        resource_uuid: Option<&str>,
    ) -> String {
        let parts = [category, event_type, resource_type, resource_uuid].map(routing_part);
        format!("{CS_EVENTS_PREFIX}.{}", parts.join("."))
    }

    /// The subject of a CloudStack event received with RabbitMQ routing key
    /// `routing_key`: its first part (the source) is dropped, the other
    /// four kept as CloudStack wrote them. `None` when the key does not
    /// have CloudStack's five non-empty parts.
    pub fn cs_event_from_routing_key(routing_key: &str) -> Option<String> {
        let parts: Vec<&str> = routing_key.split('.').collect();
        if parts.len() != 5 || parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        Some(format!("{CS_EVENTS_PREFIX}.{}", parts[1..].join(".")))
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
    fn cloudstack_subjects_follow_the_routing_key() {
        assert_eq!(
            cloudstack::cs_event_from_routing_key(
                "management-server.ActionEvent.VPC-CREATE.Vpc.3f2a"
            )
            .as_deref(),
            Some("cloudstack.events.ActionEvent.VPC-CREATE.Vpc.3f2a")
        );
        assert_eq!(cloudstack::cs_event_from_routing_key("a.b.c.d"), None);
        assert_eq!(cloudstack::cs_event_from_routing_key("a.b..d.e"), None);
        assert_eq!(
            cloudstack::cs_event(Some("ActionEvent"), Some("VPC.CREATE"), None, Some("")),
            "cloudstack.events.ActionEvent.VPC-CREATE.*.*"
        );
        assert!(subject_matches(
            &cloudstack::all_cs_events(),
            "cloudstack.events.ActionEvent.VPC-CREATE.Vpc.3f2a"
        ));
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
