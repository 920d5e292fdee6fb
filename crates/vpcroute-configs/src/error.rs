//! Typed errors of the config-renderer, each with a wire code. No message
//! ever contains an OSPF key (render errors never do, and the reasons built
//! here name only routers, VPCs, zones, CIDRs and timers).

use vpcroute_protocol::config::DialectName;
use vpcroute_protocol::{ErrorBody, ErrorCode};
use vpcroute_render::RenderError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No VPC has (or had) a router of that name.
    #[error("unknown router {router:?}")]
    UnknownRouter { router: String },
    /// The router exists but has never been renderable; `reason` says what
    /// is missing (area, zone settings, IPv4 ...).
    #[error("router {router:?} has no configuration yet: {reason}")]
    NotReady { router: String, reason: String },
    /// The configuration cannot be written in the asked dialect (Quagga
    /// cannot express some FRR-valid settings).
    #[error("router {router:?} cannot be rendered for {dialect:?}: {source}")]
    Unsupported {
        router: String,
        dialect: DialectName,
        source: RenderError,
    },
    /// A recorded model no longer renders (a different renderer release).
    #[error("router {router:?} cannot be rendered: {source}")]
    Render { router: String, source: RenderError },
    /// The router's current inputs do not render (`render_failed` event).
    #[error("router {router:?} cannot be rendered: {reason}")]
    RenderFailed { router: String, reason: String },
    /// A recorded event does not fit the state: a damaged or foreign log.
    #[error("inconsistent event: {0}")]
    Inconsistent(String),
}

impl ConfigError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ConfigError::UnknownRouter { .. } => ErrorCode::UnknownRouter,
            ConfigError::NotReady { .. } => ErrorCode::NotReady,
            ConfigError::Unsupported { .. } => ErrorCode::InvalidSettings,
            ConfigError::Render { .. } | ConfigError::RenderFailed { .. } => {
                ErrorCode::RenderFailed
            }
            ConfigError::Inconsistent(_) => ErrorCode::Internal,
        }
    }
}

impl From<ConfigError> for ErrorBody {
    fn from(e: ConfigError) -> ErrorBody {
        ErrorBody::new(e.code(), e.to_string())
    }
}
