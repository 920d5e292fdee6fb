//! `vpcctl router`: a router's desired configuration (config-renderer)
//! and what its router-sync reports.

use std::fmt::Write;

use clap::Subcommand;
use vpcroute_bus::{request, subjects, RequestError};
use vpcroute_protocol::config::{self, ConfigText, RouterConfig};
use vpcroute_protocol::sync::{RouterStatus, RouterStatusGet};
use vpcroute_protocol::{ErrorBody, ErrorCode};

use crate::output::{record, Output};
use crate::Ctx;

#[derive(Debug, Subcommand)]
pub enum RouterCmd {
    /// Print a router's current desired configuration (it holds the OSPF
    /// key: handle the output as a secret).
    Config {
        router: String,
        #[arg(long, value_enum, default_value = "frr")]
        dialect: DialectArg,
        /// Print the router's nftables ruleset (its network ACLs) instead
        /// of its routing configuration.
        #[arg(long)]
        firewall: bool,
    },
    /// Show what router-sync reports: applied version, last error, OSPF
    /// neighbours and routes.
    Status { router: String },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DialectArg {
    Frr,
    Quagga,
}

impl RouterCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<Output, ErrorBody> {
        match self {
            RouterCmd::Config {
                router,
                dialect,
                firewall,
            } => {
                let req = config::RouterConfigGet {
                    router,
                    dialect: match dialect {
                        DialectArg::Frr => config::DialectName::Frr,
                        DialectArg::Quagga => config::DialectName::Quagga,
                    },
                };
                let c: RouterConfig = ctx.call(subjects::config::ROUTER_GET, &req).await?;
                Ok(router_config(&c, firewall))
            }
            RouterCmd::Status { router } => status(ctx, router).await,
        }
    }
}

async fn status(ctx: &Ctx, router: String) -> Result<Output, ErrorBody> {
    // Only the router-sync instance managing the router listens on its
    // subject: nobody listening means nobody manages it.
    let st: RouterStatus = request(
        &ctx.client,
        &subjects::sync::router_status(&router),
        &RouterStatusGet {
            router: router.clone(),
        },
        ctx.timeout,
    )
    .await
    .map_err(|e| match e {
        RequestError::NoResponders(_) => ErrorBody::new(
            ErrorCode::UnknownRouter,
            format!("no router-sync manages {router}"),
        ),
        e => e.into_body(),
    })?;
    Ok(router_status(&st))
}

fn router_config(c: &RouterConfig, firewall: bool) -> Output {
    if firewall {
        return record(c, c.firewall.file.clone());
    }
    let human = match &c.config {
        ConfigText::Frr(text) => text.clone(),
        ConfigText::Quagga { zebra, ospfd } => {
            format!("! ---- zebra.conf ----\n{zebra}\n! ---- ospfd.conf ----\n{ospfd}")
        }
    };
    record(c, human)
}

fn router_status(st: &RouterStatus) -> Output {
    let v = |x: Option<u64>| x.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
    let mut s = format!(
        "router {}: {}{}  desired version {}, applied {}, firewall {}\n  applies {}, repairs {}, failures {}; {} OSPF routes\n",
        st.router,
        st.state,
        st.error_code.map(|c| format!(" ({c})")).unwrap_or_default(),
        v(st.desired_version),
        v(st.applied_version),
        st.firewall_version
            .map(|n| n.to_string())
            .unwrap_or_else(|| "not managed".into()),
        st.applies,
        st.repairs,
        st.failures,
        st.ospf_routes
    );
    if !st.waiting_for.is_empty() {
        let _ = writeln!(s, "  waiting for: {}", st.waiting_for.join(", "));
    }
    if let Some(e) = &st.last_error {
        let _ = writeln!(s, "  last error: {e}");
    }
    for n in &st.neighbors {
        let _ = writeln!(
            s,
            "  neighbour {} {} {}",
            n.router_id,
            n.state,
            n.interface.as_deref().unwrap_or("")
        );
    }
    record(st, s)
}
