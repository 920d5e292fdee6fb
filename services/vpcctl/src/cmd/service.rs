//! `vpcctl service status SERVICE`: how far a service has processed its
//! inputs and how its event log is written (`<service>.service.status`).

use std::fmt::Write;

use clap::Subcommand;
use vpcroute_bus::subjects;
use vpcroute_protocol::service::{ServiceStatus, ServiceStatusGet};
use vpcroute_protocol::{ErrorBody, ErrorCode};

use crate::output::{record, Output};
use crate::Ctx;

#[derive(Debug, Subcommand)]
pub enum ServiceCmd {
    /// A service's log (head, journal mode, fsync level) and how far it
    /// has handled the logs and routers it follows.
    Status {
        service: ServiceName,
        /// The router-sync instance (its first --router's name by default
        /// on its side; required here for router-sync).
        #[arg(long)]
        instance: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ServiceName {
    Ipam,
    AreaRegistry,
    ConfigRenderer,
    RouterSync,
}

impl ServiceCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<Output, ErrorBody> {
        let ServiceCmd::Status { service, instance } = self;
        let subject = match (service, instance) {
            (ServiceName::Ipam, _) => subjects::ipam::SERVICE_STATUS.to_string(),
            (ServiceName::AreaRegistry, _) => subjects::areas::SERVICE_STATUS.to_string(),
            (ServiceName::ConfigRenderer, _) => subjects::config::SERVICE_STATUS.to_string(),
            (ServiceName::RouterSync, Some(instance)) => {
                subjects::sync::check_instance(&instance)
                    .map_err(|e| ErrorBody::new(ErrorCode::InvalidRequest, e))?;
                subjects::sync::service_status(&instance)
            }
            (ServiceName::RouterSync, None) => {
                return Err(ErrorBody::new(
                    ErrorCode::InvalidRequest,
                    "router-sync runs as instances: give --instance",
                ))
            }
        };
        let st: ServiceStatus = ctx.call(&subject, &ServiceStatusGet {}).await?;
        Ok(record(&st, human(&st)))
    }
}

fn human(st: &ServiceStatus) -> String {
    let mut out = String::new();
    let name = match &st.instance {
        Some(i) => format!("{} {i}", st.service),
        None => st.service.clone(),
    };
    let log = &st.log;
    let _ = writeln!(
        out,
        "{name}: log head {}, journal {:?}, synchronous {:?}, durability {:?}",
        log.head, log.journal_mode, log.synchronous, log.durability
    );
    for f in &st.followed {
        let _ = writeln!(out, "  {} handled up to seq {}", f.source, f.applied_seq);
    }
    let version = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    for r in &st.routers {
        let _ = writeln!(
            out,
            "  router {}: desired {}, applied {}",
            r.router,
            version(r.desired_version),
            version(r.applied_version)
        );
    }
    out
}
