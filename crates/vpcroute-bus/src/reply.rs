//! Sending a reply: the one path every service's answers take, so none is
//! ever dropped for its size without the requester being told.
//!
//! NATS refuses a message over the server's `max_payload`; async-nats checks
//! that before sending (against the limit from the server's INFO) and the
//! reply is simply not sent, so the requester would wait for its timeout
//! and learn only that nobody answered (issue 14: `show zone` of 8,000
//! VPCs). Instead the requester gets `reply_too_large`, naming the subject,
//! the size and the limit, and the service logs a warning.

use async_nats::client::PublishErrorKind;
use async_nats::service::Request;
use bytes::Bytes;
use vpcroute_protocol::{ErrorBody, ErrorCode};

use crate::request::encode_reply;

/// The error sent in place of a reply of `size` bytes on `subject`.
pub fn too_large(subject: &str, size: usize, limit: usize) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::ReplyTooLarge,
        format!(
            "the reply on {subject} is {size} bytes, over the server's max_payload of {limit}: \
             ask for it in pages"
        ),
    )
}

/// Sends `reply` to `request`; if it is over the limit of the connection
/// (`max_payload`), sends [`too_large`] instead and logs a warning.
pub async fn send(request: &Request, reply: Bytes, max_payload: usize) {
    let subject = request.message.subject.as_str();
    let size = reply.len();
    let reply = if size > max_payload {
        tracing::warn!(
            subject,
            size,
            max_payload,
            "reply over the server's max_payload: sending reply_too_large instead"
        );
        encode_reply::<()>(&Err(too_large(subject, size, max_payload)))
    } else {
        reply
    };
    match request.respond(Ok(reply)).await {
        Ok(()) => {}
        // The limit was lowered since it was read (a reconnect to another
        // server): say so rather than stay silent.
        Err(e) if e.kind() == PublishErrorKind::MaxPayloadExceeded => {
            tracing::warn!(subject, size, "reply refused by the client library: {e}");
            let err = ErrorBody::new(ErrorCode::ReplyTooLarge, format!("{subject}: {e}"));
            if let Err(e) = request.respond(Ok(encode_reply::<()>(&Err(err)))).await {
                tracing::warn!(subject, "could not send reply: {e}");
            }
        }
        Err(e) => tracing::warn!(subject, "could not send reply: {e}"),
    }
}
