//! Typed errors of the area state machine, each with a wire code. No
//! message ever contains an OSPF key.

use vpcroute_protocol::{ErrorBody, ErrorCode};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AreaError {
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Settings FRR would not accept, or a backbone that collides with a
    /// VPC's area. Built from `vpcroute_render::SettingsError`, whose
    /// messages never hold the key.
    #[error("invalid OSPF settings: {0}")]
    InvalidSettings(String),
    #[error("zone {0:?} has no OSPF settings")]
    UnknownZone(String),
    #[error("VPC {0:?} has no OSPF area")]
    UnknownVpc(String),
    /// An event that cannot apply to the state: the log and the state
    /// disagree. Only replay of a damaged log can produce it.
    #[error("inconsistent event: {0}")]
    Inconsistent(String),
}

impl AreaError {
    pub fn code(&self) -> ErrorCode {
        match self {
            AreaError::InvalidRequest(_) => ErrorCode::InvalidRequest,
            AreaError::InvalidSettings(_) => ErrorCode::InvalidSettings,
            AreaError::UnknownZone(_) => ErrorCode::UnknownZone,
            AreaError::UnknownVpc(_) => ErrorCode::UnknownVpc,
            AreaError::Inconsistent(_) => ErrorCode::Internal,
        }
    }
}

impl From<vpcroute_render::SettingsError> for AreaError {
    fn from(e: vpcroute_render::SettingsError) -> Self {
        AreaError::InvalidSettings(e.to_string())
    }
}

impl From<AreaError> for ErrorBody {
    fn from(e: AreaError) -> ErrorBody {
        ErrorBody::new(e.code(), e.to_string())
    }
}
