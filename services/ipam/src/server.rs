//! The ipam event loop.
//!
//! One task owns the state and handles requests one at a time, so no lock
//! guards it (holo's single-event-loop design). A command is decided and
//! applied in memory at once; [`Committer`] makes it durable, publishes its
//! events and replies (see `vpcroute_service::commit`). Queries and
//! refusals are answered through [`Committer::reply`], so none is sent
//! before the decisions it saw are durable.

use std::sync::Arc;

use async_nats::service::Request;
use futures::StreamExt;
use vpcroute_bus::{decode_request, subjects};
use vpcroute_eventlog::{EventLog, NewEvent};
use vpcroute_ipam::{Command, IpamState};
use vpcroute_protocol::ipam::{self as msg, IpamEvent};
use vpcroute_protocol::ErrorBody;
use vpcroute_service::commit::{respond, serve_events_read, start_endpoints, Committer, Publisher};

const SOURCE: &str = "ipam";

/// What each endpoint is; requests from all endpoints are merged into one
/// stream tagged with this.
#[derive(Debug, Clone, Copy)]
enum Endpoint {
    ZoneEnable,
    ZoneUpdate,
    ZoneShow,
    VpcAllocate,
    VpcRelease,
    VpcShow,
    TierAllocate,
    TierRelease,
    VmAllocate,
    VmRelease,
    AclCreate,
    AclDelete,
    AclShow,
    AclRuleAdd,
    AclRuleDelete,
    TierSetAcl,
    EventsRead,
}

const ENDPOINTS: &[(Endpoint, &str, &str)] = &[
    (
        Endpoint::ZoneEnable,
        "zone_enable",
        subjects::ipam::ZONE_ENABLE,
    ),
    (
        Endpoint::ZoneUpdate,
        "zone_update",
        subjects::ipam::ZONE_UPDATE,
    ),
    (Endpoint::ZoneShow, "zone_show", subjects::ipam::ZONE_SHOW),
    (
        Endpoint::VpcAllocate,
        "vpc_allocate",
        subjects::ipam::VPC_ALLOCATE,
    ),
    (
        Endpoint::VpcRelease,
        "vpc_release",
        subjects::ipam::VPC_RELEASE,
    ),
    (Endpoint::VpcShow, "vpc_show", subjects::ipam::VPC_SHOW),
    (
        Endpoint::TierAllocate,
        "tier_allocate",
        subjects::ipam::TIER_ALLOCATE,
    ),
    (
        Endpoint::TierRelease,
        "tier_release",
        subjects::ipam::TIER_RELEASE,
    ),
    (
        Endpoint::VmAllocate,
        "vm_allocate",
        subjects::ipam::VM_ALLOCATE,
    ),
    (
        Endpoint::VmRelease,
        "vm_release",
        subjects::ipam::VM_RELEASE,
    ),
    (
        Endpoint::AclCreate,
        "acl_create",
        subjects::ipam::ACL_CREATE,
    ),
    (
        Endpoint::AclDelete,
        "acl_delete",
        subjects::ipam::ACL_DELETE,
    ),
    (Endpoint::AclShow, "acl_show", subjects::ipam::ACL_SHOW),
    (
        Endpoint::AclRuleAdd,
        "acl_rule_add",
        subjects::ipam::ACL_RULE_ADD,
    ),
    (
        Endpoint::AclRuleDelete,
        "acl_rule_delete",
        subjects::ipam::ACL_RULE_DELETE,
    ),
    (
        Endpoint::TierSetAcl,
        "tier_set_acl",
        subjects::ipam::TIER_SET_ACL,
    ),
    (
        Endpoint::EventsRead,
        "events_read",
        subjects::ipam::EVENTS_READ,
    ),
];

struct Server {
    state: IpamState,
    log: Arc<EventLog>,
    committer: Committer,
}

pub async fn serve(
    client: async_nats::Client,
    log: Arc<EventLog>,
    state: IpamState,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut endpoints = start_endpoints(
        &client,
        subjects::ipam::SERVICE_NAME,
        "vpcroute address management: zone super-CIDRs, VPCs, tiers, VM addresses",
        ENDPOINTS,
    )
    .await?;
    let committer = Committer::new(
        client.clone(),
        log.clone(),
        Publisher::plain(SOURCE, subjects::ipam::EVENTS_PREFIX),
    );
    let mut server = Server {
        state,
        log,
        committer,
    };
    tracing::info!("ipam serving");
    loop {
        tokio::select! {
            _ = server.committer.settle() => {}
            next = endpoints.requests.next() => match next {
                Some((kind, request)) => server.handle(kind, request),
                None => return Err("NATS subscriptions ended".into()),
            },
        }
    }
}

impl Server {
    fn handle(&mut self, kind: Endpoint, request: Request) {
        let payload = request.message.payload.clone();
        let cmd = match kind {
            Endpoint::ZoneEnable => decode_request(&payload).map(Command::ZoneEnable),
            Endpoint::ZoneUpdate => decode_request(&payload).map(Command::ZoneUpdate),
            Endpoint::VpcAllocate => decode_request(&payload).map(Command::VpcAllocate),
            Endpoint::VpcRelease => decode_request(&payload).map(Command::VpcRelease),
            Endpoint::TierAllocate => decode_request(&payload).map(Command::TierAllocate),
            Endpoint::TierRelease => decode_request(&payload).map(Command::TierRelease),
            Endpoint::VmAllocate => decode_request(&payload).map(Command::VmAllocate),
            Endpoint::VmRelease => decode_request(&payload).map(Command::VmRelease),
            Endpoint::AclCreate => decode_request(&payload).map(Command::AclCreate),
            Endpoint::AclDelete => decode_request(&payload).map(Command::AclDelete),
            Endpoint::AclRuleAdd => decode_request(&payload).map(Command::AclRuleAdd),
            Endpoint::AclRuleDelete => decode_request(&payload).map(Command::AclRuleDelete),
            Endpoint::TierSetAcl => decode_request(&payload).map(Command::TierSetAcl),
            Endpoint::AclShow => {
                let reply = decode_request::<msg::Show>(&payload)
                    .and_then(|q| self.state.acl_view(&q.name).map_err(ErrorBody::from));
                return self.committer.reply(request, reply);
            }
            Endpoint::ZoneShow => {
                let reply = decode_request::<msg::Show>(&payload)
                    .and_then(|q| self.state.zone_view(&q.name).map_err(ErrorBody::from));
                return self.committer.reply(request, reply);
            }
            Endpoint::VpcShow => {
                let reply = decode_request::<msg::Show>(&payload)
                    .and_then(|q| self.state.vpc_view(&q.name).map_err(ErrorBody::from));
                return self.committer.reply(request, reply);
            }
            Endpoint::EventsRead => return serve_events_read(self.log.clone(), SOURCE, request),
        };
        match cmd {
            Ok(cmd) => self.command(cmd, request),
            Err(e) => respond::<()>(request, Err(e)),
        }
    }

    fn command(&mut self, cmd: Command, request: Request) {
        let request_id = cmd.request_id().to_string();
        let fingerprint = cmd.fingerprint();
        let Some(request) = self
            .committer
            .retry_or_new(request, &request_id, &fingerprint)
        else {
            return;
        };
        let decision = match self.state.decide(&cmd) {
            Ok(d) => d,
            // Refusals are not recorded: they changed nothing, and the same
            // request may succeed later (after space is freed). Like a
            // query's answer, one waits for the commits in flight.
            Err(e) => return self.committer.reply::<()>(request, Err(e.into())),
        };
        for ev in &decision.events {
            self.state
                .apply(ev)
                .expect("an event just decided applies to the state it was decided on");
        }
        let events = decision
            .events
            .iter()
            .map(|ev: &IpamEvent| NewEvent {
                event_type: ev.event_type().to_string(),
                schema_version: IpamEvent::SCHEMA_VERSION,
                payload: serde_json::to_value(ev).expect("events serialise"),
            })
            .collect();
        self.committer.commit(
            Some(request),
            request_id,
            fingerprint,
            decision.stream,
            events,
            decision.reply,
        );
    }
}
