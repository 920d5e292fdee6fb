//! A service's endpoints as one table: each row names the endpoint, its
//! subject and what handles it, and registration with the Services API,
//! the NATS subscription and dispatch all come from that row. Adding a
//! request to a service is adding a row (and, for a command, its variant
//! and `decide` arm in the service's state machine).

use async_nats::service::Request;
use serde::de::DeserializeOwned;
use serde::Serialize;
use vpcroute_bus::{decode_request, encode_reply, PageBudget};
use vpcroute_protocol::page::PagedRequest;
use vpcroute_protocol::ErrorBody;

use crate::commit::{respond, Committer, Endpoint, Progress, Reading};

/// A reply ready to send: `{"ok": ...}` or `{"error": ...}`.
pub type EncodedReply = bytes::Bytes;

/// What a request on an endpoint is, for a service whose state is `S` and
/// whose state-changing requests are `C`.
pub enum Handler<S, C> {
    /// A request that may change state: decoded here, then decided,
    /// applied and committed by the service ([`Service::command`]).
    Command(fn(&[u8]) -> Result<C, ErrorBody>),
    /// A question answered from the state in memory: decoded, answered and
    /// encoded by the function (see [`answer`]), sent through
    /// [`Committer::reply`], so it waits for the appends in flight.
    Query(fn(&S, &[u8]) -> EncodedReply),
    /// `<service>.events.read`: the log, read off the event loop.
    EventsRead(Reading),
    /// `<service>.service.status`: [`Service::progress`] and the log's
    /// head and pragmas ([`Committer::serve_status`]).
    Status,
    /// A query answered one page at a time: like `Query`, and given the
    /// largest reply the connection's server takes (`vpcroute_bus::page`).
    Paged(fn(&S, &[u8], usize) -> EncodedReply),
}

// By hand: a derive would require `S: Clone` and `C: Clone`.
impl<S, C> Clone for Handler<S, C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S, C> Copy for Handler<S, C> {}

/// A table row for a command.
pub const fn command<S, C>(
    name: &'static str,
    subject: &'static str,
    decode: fn(&[u8]) -> Result<C, ErrorBody>,
) -> Endpoint<'static, Handler<S, C>> {
    Endpoint {
        name,
        subject,
        handler: Handler::Command(decode),
    }
}

/// A table row for a query.
pub const fn query<S, C>(
    name: &'static str,
    subject: &'static str,
    answer: fn(&S, &[u8]) -> EncodedReply,
) -> Endpoint<'static, Handler<S, C>> {
    Endpoint {
        name,
        subject,
        handler: Handler::Query(answer),
    }
}

/// A table row for a paged query; `answer` gets the server's
/// `max_payload` (see [`paged_answer`]).
pub const fn paged<S, C>(
    name: &'static str,
    subject: &'static str,
    answer: fn(&S, &[u8], usize) -> EncodedReply,
) -> Endpoint<'static, Handler<S, C>> {
    Endpoint {
        name,
        subject,
        handler: Handler::Paged(answer),
    }
}

/// The table row of `<service>.events.read`.
pub const fn events_read<S, C>(
    subject: &'static str,
    reading: Reading,
) -> Endpoint<'static, Handler<S, C>> {
    Endpoint {
        name: "events_read",
        subject,
        handler: Handler::EventsRead(reading),
    }
}

/// The table row of `<service>.service.status`.
pub const fn status<S, C>(subject: &'static str) -> Endpoint<'static, Handler<S, C>> {
    Endpoint {
        name: "service_status",
        subject,
        handler: Handler::Status,
    }
}

/// A query's reply: the request decoded as `Q`, asked, and encoded.
pub fn answer<Q, T, E>(payload: &[u8], ask: impl FnOnce(Q) -> Result<T, E>) -> EncodedReply
where
    Q: DeserializeOwned,
    T: Serialize,
    E: Into<ErrorBody>,
{
    encode_reply(&decode_request::<Q>(payload).and_then(|q| ask(q).map_err(Into::into)))
}

/// A paged query's reply: the request decoded as `Q`, its budget from
/// its `limit` and `max_payload`, and the page `ask` writes (with
/// `vpcroute_bus::page_reply`).
pub fn paged_answer<Q, E>(
    payload: &[u8],
    max_payload: usize,
    ask: impl FnOnce(Q, PageBudget) -> Result<EncodedReply, E>,
) -> EncodedReply
where
    Q: DeserializeOwned + PagedRequest,
    E: Into<ErrorBody>,
{
    let page = decode_request::<Q>(payload).and_then(|q| {
        let budget = PageBudget::of(&q, max_payload)?;
        ask(q, budget).map_err(Into::into)
    });
    page.unwrap_or_else(|e| encode_reply::<()>(&Err(e)))
}

/// A service's event loop, as its endpoint table sees it.
pub trait Service {
    type State;
    type Command;
    fn state(&self) -> &Self::State;
    fn committer(&self) -> &Committer;
    /// Decides a decoded command, applies it and hands it to the
    /// committer (or refuses it through [`Committer::reply`]).
    fn command(&mut self, cmd: Self::Command, request: Request);
    /// What it has processed of the logs it follows (nothing: ipam).
    fn progress(&self) -> Progress {
        Progress::default()
    }
}

/// Handles a request as its endpoint's row says.
pub fn dispatch<S: Service>(
    service: &mut S,
    handler: Handler<S::State, S::Command>,
    request: Request,
) {
    match handler {
        Handler::Command(decode) => match decode(&request.message.payload) {
            Ok(cmd) => service.command(cmd, request),
            // Undecodable: nothing was decided on any state, so nothing
            // to wait for.
            Err(e) => respond::<()>(request, Err(e)),
        },
        Handler::Query(ask) => {
            let reply = ask(service.state(), &request.message.payload);
            service.committer().reply_encoded(request, reply);
        }
        Handler::Paged(ask) => {
            let max_payload = service.committer().max_payload();
            let reply = ask(service.state(), &request.message.payload, max_payload);
            service.committer().reply_encoded(request, reply);
        }
        Handler::EventsRead(reading) => service.committer().serve_events_read(request, reading),
        Handler::Status => service
            .committer()
            .serve_status(request, service.progress()),
    }
}
