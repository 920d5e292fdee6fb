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
use vpcroute_bus::{decode_request, page_reply, subjects, PageBudget};
use vpcroute_eventlog::EventLog;
use vpcroute_ipam::{Command, IpamError, IpamState, Position};
use vpcroute_protocol::ipam::{self as msg, ExportRow, IpamEvent};
use vpcroute_protocol::PagedShow;
use vpcroute_service::commit::{start_endpoints, Committer, Endpoint, Publisher, Reading};
use vpcroute_service::endpoint::{
    answer, command, dispatch, events_read, paged, paged_answer, query, status, EncodedReply,
    Handler, Service,
};
use vpcroute_service::event::new_events;

const SOURCE: &str = "ipam";

type Row = Endpoint<'static, Handler<IpamState, Command>>;

/// Every endpoint of ipam: a command's row decodes its request into its
/// `Command` variant; a query's row answers it from the state.
const ENDPOINTS: &[Row] = &[
    command("zone_enable", subjects::ipam::ZONE_ENABLE, |p| {
        decode_request(p).map(Command::ZoneEnable)
    }),
    command("zone_update", subjects::ipam::ZONE_UPDATE, |p| {
        decode_request(p).map(Command::ZoneUpdate)
    }),
    query("zone_show", subjects::ipam::ZONE_SHOW, |s, p| {
        answer(p, |q: msg::Show| s.zone_view(&q.name))
    }),
    command("vpc_allocate", subjects::ipam::VPC_ALLOCATE, |p| {
        decode_request(p).map(Command::VpcAllocate)
    }),
    command("vpc_release", subjects::ipam::VPC_RELEASE, |p| {
        decode_request(p).map(Command::VpcRelease)
    }),
    query("vpc_show", subjects::ipam::VPC_SHOW, |s, p| {
        answer(p, |q: msg::Show| s.vpc_view(&q.name))
    }),
    command("tier_allocate", subjects::ipam::TIER_ALLOCATE, |p| {
        decode_request(p).map(Command::TierAllocate)
    }),
    command("tier_release", subjects::ipam::TIER_RELEASE, |p| {
        decode_request(p).map(Command::TierRelease)
    }),
    command("vm_allocate", subjects::ipam::VM_ALLOCATE, |p| {
        decode_request(p).map(Command::VmAllocate)
    }),
    command("vm_release", subjects::ipam::VM_RELEASE, |p| {
        decode_request(p).map(Command::VmRelease)
    }),
    query("vm_show", subjects::ipam::VM_SHOW, |s, p| {
        answer(p, |q: msg::VmShow| s.vm_view(&q.vm))
    }),
    command("acl_create", subjects::ipam::ACL_CREATE, |p| {
        decode_request(p).map(Command::AclCreate)
    }),
    command("acl_delete", subjects::ipam::ACL_DELETE, |p| {
        decode_request(p).map(Command::AclDelete)
    }),
    query("acl_show", subjects::ipam::ACL_SHOW, |s, p| {
        answer(p, |q: msg::Show| s.acl_view(&q.name))
    }),
    command("acl_rule_add", subjects::ipam::ACL_RULE_ADD, |p| {
        decode_request(p).map(Command::AclRuleAdd)
    }),
    command("acl_rule_delete", subjects::ipam::ACL_RULE_DELETE, |p| {
        decode_request(p).map(Command::AclRuleDelete)
    }),
    command("tier_set_acl", subjects::ipam::TIER_SET_ACL, |p| {
        decode_request(p).map(Command::TierSetAcl)
    }),
    status(subjects::ipam::SERVICE_STATUS),
    query("zone_summary", subjects::ipam::ZONE_SUMMARY, |s, p| {
        answer(p, |q: msg::Show| s.zone_summary(&q.name))
    }),
    paged("zone_export", subjects::ipam::ZONE_EXPORT, |s, p, max| {
        paged_answer(p, max, |q: PagedShow, budget| {
            let pos = Position::parse(q.after.as_deref())?;
            let rows = s.zone_rows(&q.name, &pos)?;
            Ok::<_, IpamError>(rows_page(budget, rows))
        })
    }),
    paged("vpc_export", subjects::ipam::VPC_EXPORT, |s, p, max| {
        paged_answer(p, max, |q: PagedShow, budget| {
            let pos = Position::parse(q.after.as_deref())?;
            let rows = s.vpc_rows(&q.name, &pos)?;
            Ok::<_, IpamError>(rows_page(budget, rows))
        })
    }),
    paged("acl_list", subjects::ipam::ACL_LIST, |s, p, max| {
        paged_answer(p, max, |q: PagedShow, budget| {
            let lists = s.zone_acls(&q.name, q.after.as_deref())?;
            Ok::<_, IpamError>(page_reply::<_, ()>(budget, None, "items", lists, |a| {
                a.acl.clone()
            }))
        })
    }),
    events_read(subjects::ipam::EVENTS_READ, Reading::AsRecorded),
];

/// A page of export rows; each row's position is its token.
fn rows_page(budget: PageBudget, rows: impl Iterator<Item = ExportRow>) -> EncodedReply {
    page_reply::<_, ()>(budget, None, "items", rows, ExportRow::position)
}

struct Server {
    state: IpamState,
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
        log,
        Publisher::of::<IpamEvent>(SOURCE, subjects::ipam::EVENTS_PREFIX),
    );
    let mut server = Server { state, committer };
    tracing::info!("ipam serving");
    loop {
        tokio::select! {
            _ = server.committer.settle() => {}
            next = endpoints.requests.next() => match next {
                Some((handler, request)) => dispatch(&mut server, handler, request),
                None => return Err("NATS subscriptions ended".into()),
            },
        }
    }
}

impl Service for Server {
    type State = IpamState;
    type Command = Command;

    fn state(&self) -> &IpamState {
        &self.state
    }

    fn committer(&self) -> &Committer {
        &self.committer
    }

    fn command(&mut self, cmd: Command, request: Request) {
        let (request_id, fingerprint) = cmd.request_id_and_fingerprint();
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
        self.committer.commit(
            Some(request),
            request_id,
            fingerprint,
            decision.stream,
            new_events(&decision.events),
            decision.reply,
        );
    }
}
