//! NATS as vpcroute uses it: the name of every subject ([`subjects`]), how a
//! process connects ([`connect`]), and typed request/reply ([`request`]).

pub mod connect;
pub mod duration;
pub mod page;
pub mod reply;
pub mod request;
pub mod subjects;

pub use connect::{connect, ConnectError, NatsArgs, Startup};
pub use duration::parse_duration;
pub use page::{page_reply, PageBudget, PageWriter, Pager};
pub use request::{decode_request, encode_reply, request, RequestError};
