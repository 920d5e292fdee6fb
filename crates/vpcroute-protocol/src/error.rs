//! Structured errors as they appear on the wire.
//!
//! Every failure a client can see is an [`ErrorBody`]: a stable machine code
//! and a human message that names the cause. Services keep their own typed
//! error enums and convert them here exactly once, at the edge.

use serde::{Deserialize, Serialize};

/// Stable error codes. Clients (CloudStack, `vpcctl`, scripts) branch on
/// these, so a code is never renamed; new ones may be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The payload is not valid JSON or does not match the request schema.
    InvalidRequest,
    /// A CIDR or address is malformed, not canonical, or of the wrong family.
    InvalidCidr,
    /// A netmask that is not a contiguous run of ones.
    InvalidNetmask,
    UnknownZone,
    UnknownVpc,
    UnknownTier,
    UnknownVm,
    /// No ACL list of that name (or it belongs to another VPC).
    UnknownAcl,
    /// The list has no rule of that number.
    UnknownAclRule,
    /// A zone, VPC, tier or VM of that name exists already.
    AlreadyExists,
    /// No free block of the requested size is left.
    NoSpace,
    /// The requested block or address lies outside its parent.
    OutsideParent,
    /// The requested block or address overlaps one already allocated.
    Overlap,
    /// The object still has children (a VPC with tiers, a tier with VMs).
    NotEmpty,
    /// A super-CIDR cannot be removed while allocations use it.
    InUse,
    /// The same request id was sent earlier with a different body.
    RequestIdConflict,
    /// Optimistic concurrency check failed in the event log.
    VersionConflict,
    /// Requested address is reserved (network, gateway, broadcast).
    ReservedAddress,
    /// The subnet is too small to hold any VM.
    SubnetTooSmall,
    /// OSPF settings FRR would not accept (timer out of range, dead not
    /// above hello, key too long ...).
    InvalidSettings,
    UnknownRouter,
    /// The router's configuration cannot be rendered yet (its VPC has no
    /// area yet, or its zone no OSPF settings).
    NotReady,
    /// The router's configuration could not be rendered from the state
    /// the services hold (an upgrade tightened a rule, or a log written by
    /// an older version); the message gives the reason. The router keeps
    /// what it runs and its status says `failed`.
    RenderFailed,
    /// An event log failed verification (changed, removed or reordered
    /// events).
    CorruptLog,
    /// No service answered (vpcctl side: nothing listening, or timeout).
    Unavailable,
    /// The reply would exceed the NATS server's `max_payload`, so it was
    /// not sent; the message names the subject, the size and the limit.
    /// Ask for it in pages (the paged subjects, `vpcroute_protocol::page`).
    ReplyTooLarge,
    /// Anything else; the message says what, the service log says more.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidCidr => "invalid_cidr",
            ErrorCode::InvalidNetmask => "invalid_netmask",
            ErrorCode::UnknownZone => "unknown_zone",
            ErrorCode::UnknownVpc => "unknown_vpc",
            ErrorCode::UnknownTier => "unknown_tier",
            ErrorCode::UnknownVm => "unknown_vm",
            ErrorCode::UnknownAcl => "unknown_acl",
            ErrorCode::UnknownAclRule => "unknown_acl_rule",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::NoSpace => "no_space",
            ErrorCode::OutsideParent => "outside_parent",
            ErrorCode::Overlap => "overlap",
            ErrorCode::NotEmpty => "not_empty",
            ErrorCode::InUse => "in_use",
            ErrorCode::RequestIdConflict => "request_id_conflict",
            ErrorCode::VersionConflict => "version_conflict",
            ErrorCode::ReservedAddress => "reserved_address",
            ErrorCode::SubnetTooSmall => "subnet_too_small",
            ErrorCode::InvalidSettings => "invalid_settings",
            ErrorCode::UnknownRouter => "unknown_router",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::RenderFailed => "render_failed",
            ErrorCode::CorruptLog => "corrupt_log",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::ReplyTooLarge => "reply_too_large",
            ErrorCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error object of a failed reply: `{"code": "...", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(deny_unknown_fields)]
#[error("{code}: {message}")]
/// Build with [`ErrorBody::new`], which bounds the message.
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

/// Longest error message sent. Messages quote what was wrong with a
/// request; a request may be a megabyte of attacker-chosen text, and an
/// error must not become a way to reflect (or amplify) it.
pub const MAX_MESSAGE_CHARS: usize = 200;

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let mut message: String = message.into();
        if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
            message.truncate(cut);
            message.push('…');
        }
        ErrorBody { code, message }
    }
}

/// At most `max` characters of `s` (for quoting input in messages).
pub fn clip(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => s.into(),
        Some((cut, _)) => format!("{}…({} bytes)", &s[..cut], s.len()).into(),
    }
}

/// Every reply on the bus is either `{"ok": RESULT}` or `{"error": ERROR}`.
///
/// An explicit envelope (rather than "an object, unless it has an `error`
/// key") keeps the schema of each reply exact and lets a client tell a
/// result from an error without knowing the result's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply<T> {
    Ok(T),
    Error(ErrorBody),
}

impl<T> Reply<T> {
    pub fn into_result(self) -> Result<T, ErrorBody> {
        match self {
            Reply::Ok(v) => Ok(v),
            Reply::Error(e) => Err(e),
        }
    }
}

impl<T> From<Result<T, ErrorBody>> for Reply<T> {
    fn from(r: Result<T, ErrorBody>) -> Self {
        match r {
            Ok(v) => Reply::Ok(v),
            Err(e) => Reply::Error(e),
        }
    }
}
