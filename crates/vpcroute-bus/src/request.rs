//! Typed request/reply over NATS with the `{"ok": ...} | {"error": ...}`
//! envelope of [`vpcroute_protocol::Reply`].

use serde::{de::DeserializeOwned, Serialize};
use std::time::Duration;
use vpcroute_protocol::{ErrorBody, ErrorCode, Reply};

/// Largest request payload a service decodes. NATS itself caps messages
/// (1 MiB by default); this keeps a huge but valid JSON array from turning
/// into a huge allocation.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The service answered with a structured error.
    #[error(transparent)]
    Service(#[from] ErrorBody),
    /// Nothing answered in time.
    #[error("{0}")]
    Unavailable(String),
    /// No one subscribes to the subject: NATS said so at once. On a
    /// subject of one object (a router's status) it means no service
    /// holds that object.
    #[error("{0}")]
    NoResponders(String),
    /// The answer was not a valid reply envelope.
    #[error("malformed reply: {0}")]
    MalformedReply(String),
}

impl RequestError {
    /// The error as it is shown to a user or returned over the wire.
    pub fn into_body(self) -> ErrorBody {
        match self {
            RequestError::Service(body) => body,
            RequestError::Unavailable(m) | RequestError::NoResponders(m) => {
                ErrorBody::new(ErrorCode::Unavailable, m)
            }
            RequestError::MalformedReply(m) => ErrorBody::new(ErrorCode::Internal, m),
        }
    }
}

/// Sends `req` to `subject` and decodes the reply envelope.
pub async fn request<Req: Serialize, Resp: DeserializeOwned>(
    client: &async_nats::Client,
    subject: &str,
    req: &Req,
    timeout: Duration,
) -> Result<Resp, RequestError> {
    let payload = serde_json::to_vec(req).expect("request types always serialise");
    let fut = client.request(subject.to_string(), payload.into());
    let msg = match tokio::time::timeout(timeout, fut).await {
        Err(_) => {
            return Err(RequestError::Unavailable(format!(
                "no reply on {subject} within {timeout:?}"
            )))
        }
        Ok(Err(e)) => {
            use async_nats::client::RequestErrorKind;
            let why = match e.kind() {
                RequestErrorKind::NoResponders => {
                    return Err(RequestError::NoResponders(format!(
                        "{subject}: no service is listening"
                    )))
                }
                RequestErrorKind::TimedOut => "timed out".to_string(),
                _ => e.to_string(),
            };
            return Err(RequestError::Unavailable(format!("{subject}: {why}")));
        }
        Ok(Ok(msg)) => msg,
    };
    let reply: Reply<Resp> = serde_json::from_slice(&msg.payload)
        .map_err(|e| RequestError::MalformedReply(format!("{subject}: {e}")))?;
    reply.into_result().map_err(RequestError::Service)
}

/// Decodes a request payload, turning every way it can be wrong into an
/// `invalid_request` error that says what is wrong (never echoing the
/// payload itself, which may hold a key).
pub fn decode_request<T: DeserializeOwned>(payload: &[u8]) -> Result<T, ErrorBody> {
    if payload.len() > MAX_REQUEST_BYTES {
        return Err(ErrorBody::new(
            ErrorCode::InvalidRequest,
            format!(
                "request of {} bytes exceeds the limit of {MAX_REQUEST_BYTES}",
                payload.len()
            ),
        ));
    }
    // serde fills a struct from a JSON array by position; the wire format
    // is objects only.
    if payload.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ErrorBody::new(
            ErrorCode::InvalidRequest,
            "bad request: the request must be a JSON object",
        ));
    }
    // serde takes `null` for an absent `Option` field; the schemas do not
    // (no request schema allows null, and every client leaves an absent
    // field out: schemas/README.md), so neither does the service. Found by
    // feeding schemas/*.request.invalid.jsonl to the running services
    // (tests/fuzz_e2e.rs): `{"auth": null}` set a zone's OSPF settings.
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) {
        if let Some(path) = null_at(&v) {
            return Err(ErrorBody::new(
                ErrorCode::InvalidRequest,
                format!("bad request: `{path}` is null: leave an absent field out"),
            ));
        }
    }
    serde_json::from_slice(payload)
        .map_err(|e| ErrorBody::new(ErrorCode::InvalidRequest, format!("bad request: {e}")))
}

/// Where the first `null` of a request is (`auth`, `router.name`, `cidrs.0`),
/// its field names clipped so that an error never repeats a long one.
fn null_at(v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    let inner = |key: String, v: &Value| match v {
        Value::Null => Some(key),
        _ => null_at(v).map(|rest| format!("{key}.{rest}")),
    };
    match v {
        Value::Object(m) => m
            .iter()
            .find_map(|(k, v)| inner(k.chars().take(40).collect(), v)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, v)| inner(i.to_string(), v)),
        _ => None,
    }
}

/// Encodes a reply envelope, written straight to bytes (no intermediate
/// `Value`), so u128 address counts need nothing special.
pub fn encode_reply<T: Serialize>(reply: &Result<T, ErrorBody>) -> bytes::Bytes {
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Envelope<'a, T> {
        Ok(&'a T),
        Error(&'a ErrorBody),
    }
    let env = match reply {
        Ok(v) => Envelope::Ok(v),
        Err(e) => Envelope::Error(e),
    };
    serde_json::to_vec(&env)
        .expect("reply types always serialise")
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Probe {
        name: String,
    }

    #[test]
    fn bad_payloads_become_invalid_request() {
        for bad in [
            &b"not json"[..],
            b"{\"name\": 3}",
            b"{}",
            b"{\"name\":\"a\",\"x\":1}",
        ] {
            let err = decode_request::<Probe>(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRequest, "{bad:?}");
        }
        let huge = vec![b' '; MAX_REQUEST_BYTES + 1];
        assert!(decode_request::<Probe>(&huge)
            .unwrap_err()
            .message
            .contains("exceeds"));
    }

    #[test]
    fn arrays_are_not_requests_and_errors_do_not_echo_input() {
        let err = decode_request::<Probe>(br#"["a"]"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        let long = format!(r#"{{"name":"a","{}":1}}"#, "x".repeat(50_000));
        let err = decode_request::<Probe>(long.as_bytes()).unwrap_err();
        assert!(err.message.chars().count() <= vpcroute_protocol::error::MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn null_is_not_an_absent_field() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct WithOption {
            name: String,
            zone: Option<String>,
        }
        let ok = decode_request::<WithOption>(br#"{"name":"a"}"#).unwrap();
        assert!(ok.zone.is_none());
        for (bad, path) in [
            (&br#"{"name":"a","zone":null}"#[..], "zone"),
            (br#"{"name":"a","zone":{"x":[1,null]}}"#, "zone.x.1"),
        ] {
            let err = decode_request::<WithOption>(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRequest);
            assert!(
                err.message.contains(&format!("`{path}` is null")),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn replies_use_the_envelope() {
        let ok: Result<u32, ErrorBody> = Ok(7);
        assert_eq!(&encode_reply(&ok)[..], br#"{"ok":7}"#);
        let err: Result<u32, ErrorBody> = Err(ErrorBody::new(ErrorCode::NoSpace, "full"));
        let v: serde_json::Value = serde_json::from_slice(&encode_reply(&err)).unwrap();
        assert_eq!(v["error"]["code"], "no_space");
    }
}
