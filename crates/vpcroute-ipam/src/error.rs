//! Typed errors of the ipam state machine, each with a wire code.

use ipnet::IpNet;
use vpcroute_allocator::AllocError;
use vpcroute_protocol::{ErrorBody, ErrorCode};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidCidr(String),
    #[error("{0}")]
    InvalidNetmask(String),
    #[error("unknown zone {0:?}")]
    UnknownZone(String),
    #[error("unknown VPC {0:?}")]
    UnknownVpc(String),
    #[error("unknown tier {0:?}")]
    UnknownTier(String),
    #[error("unknown VM {0:?}")]
    UnknownVm(String),
    /// The detail names the list, and the VPC when it is another's.
    #[error("unknown ACL list {0}")]
    UnknownAcl(String),
    #[error("ACL list {acl:?} has no rule number {number}")]
    UnknownAclRule { acl: String, number: u32 },
    #[error("ACL list {acl:?} is attached to {tiers}; attach another list to them first")]
    AclInUse { acl: String, tiers: String },
    #[error("{kind} {name:?} already exists")]
    AlreadyExists { kind: &'static str, name: String },
    /// Named with what was asked and what is left, so an operator can act
    /// on it without a second query.
    #[error("no free block of size /{requested} in {scope}: {}", match largest_free {
        Some(p) => format!("the largest free block is /{p}"),
        None => "no space is free".to_string(),
    })]
    NoSpace {
        scope: String,
        requested: u8,
        largest_free: Option<u8>,
    },
    #[error("{what} is outside {parent}")]
    OutsideParent { what: String, parent: String },
    #[error("{what} overlaps {with}")]
    Overlap { what: String, with: String },
    #[error("{kind} {name:?} still has {children}; delete them first")]
    NotEmpty {
        kind: &'static str,
        name: String,
        children: String,
    },
    #[error("super-CIDR {cidr} is in use (e.g. by {by})")]
    InUse { cidr: IpNet, by: String },
    #[error("{0}")]
    ReservedAddress(String),
    #[error("{0}")]
    SubnetTooSmall(String),
    /// An event that cannot apply to the state: the log and the state
    /// disagree. Only replay of a damaged log can produce it.
    #[error("inconsistent event: {0}")]
    Inconsistent(String),
}

impl IpamError {
    pub fn code(&self) -> ErrorCode {
        match self {
            IpamError::InvalidRequest(_) => ErrorCode::InvalidRequest,
            IpamError::InvalidCidr(_) => ErrorCode::InvalidCidr,
            IpamError::InvalidNetmask(_) => ErrorCode::InvalidNetmask,
            IpamError::UnknownZone(_) => ErrorCode::UnknownZone,
            IpamError::UnknownVpc(_) => ErrorCode::UnknownVpc,
            IpamError::UnknownTier(_) => ErrorCode::UnknownTier,
            IpamError::UnknownVm(_) => ErrorCode::UnknownVm,
            IpamError::UnknownAcl(_) => ErrorCode::UnknownAcl,
            IpamError::UnknownAclRule { .. } => ErrorCode::UnknownAclRule,
            IpamError::AclInUse { .. } => ErrorCode::InUse,
            IpamError::AlreadyExists { .. } => ErrorCode::AlreadyExists,
            IpamError::NoSpace { .. } => ErrorCode::NoSpace,
            IpamError::OutsideParent { .. } => ErrorCode::OutsideParent,
            IpamError::Overlap { .. } => ErrorCode::Overlap,
            IpamError::NotEmpty { .. } => ErrorCode::NotEmpty,
            IpamError::InUse { .. } => ErrorCode::InUse,
            IpamError::ReservedAddress(_) => ErrorCode::ReservedAddress,
            IpamError::SubnetTooSmall(_) => ErrorCode::SubnetTooSmall,
            IpamError::Inconsistent(_) => ErrorCode::Internal,
        }
    }

    /// Maps a refusal by the renderer's model rules (checked at the request,
    /// so nothing accepted here fails to render): an uplink overlapping the
    /// VPC's block is `overlap`, anything else `invalid_request`.
    pub(crate) fn from_render(e: vpcroute_protocol::names::ModelRuleError) -> IpamError {
        use vpcroute_protocol::names::ModelRuleError as R;
        match e {
            R::UplinkOverlapsVpc { uplink, vpc_cidr } => IpamError::Overlap {
                what: format!("uplink network {uplink}"),
                with: format!("the VPC's block {vpc_cidr} (the uplink must be outside it)"),
            },
            other => IpamError::InvalidRequest(other.to_string()),
        }
    }

    /// Maps an allocator error met while serving a request in `scope`
    /// (e.g. `zone "z1"` or `VPC "left"`).
    pub(crate) fn from_alloc(e: AllocError, scope: &str) -> IpamError {
        match e {
            AllocError::InvalidCidr { .. } | AllocError::InvalidPrefixLen { .. } => {
                IpamError::InvalidCidr(e.to_string())
            }
            AllocError::InvalidNetmask { .. } => IpamError::InvalidNetmask(e.to_string()),
            AllocError::OutsidePool { target } => IpamError::OutsideParent {
                what: target.to_string(),
                parent: scope.to_string(),
            },
            AllocError::Overlap { net, with } => IpamError::Overlap {
                what: net.to_string(),
                with: format!("{with} in {scope}"),
            },
            AllocError::NoSpace {
                requested_prefix,
                largest_free,
                ..
            } => IpamError::NoSpace {
                scope: scope.to_string(),
                requested: requested_prefix,
                largest_free,
            },
            AllocError::RootOverlap { net, with } => IpamError::Overlap {
                what: format!("super-CIDR {net}"),
                with: format!("super-CIDR {with}"),
            },
            AllocError::RootInUse { root, allocated } => IpamError::InUse {
                cidr: root,
                by: allocated.to_string(),
            },
            AllocError::SubnetTooSmall { .. } => IpamError::SubnetTooSmall(e.to_string()),
            AllocError::InvalidGateway { .. } | AllocError::Reserved { .. } => {
                IpamError::ReservedAddress(e.to_string())
            }
            AllocError::AddressInUse { addr } => IpamError::Overlap {
                what: addr.to_string(),
                with: format!("an address already allocated in {scope}"),
            },
            AllocError::Exhausted { subnet } => IpamError::NoSpace {
                scope: format!("{scope} ({subnet})"),
                requested: match subnet {
                    IpNet::V4(_) => 32,
                    IpNet::V6(_) => 128,
                },
                largest_free: None,
            },
            other => IpamError::Inconsistent(other.to_string()),
        }
    }
}

impl From<IpamError> for ErrorBody {
    fn from(e: IpamError) -> ErrorBody {
        ErrorBody::new(e.code(), e.to_string())
    }
}
