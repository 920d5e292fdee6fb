//! `vpcctl`: drives vpcroute over NATS as CloudStack would, and shows
//! operators what it holds. The command names and flags are product
//! interface: they are kept exactly, and only ever added to.
//!
//! Read top to bottom: the global options and the nouns here; each noun's
//! arguments, requests and output in its own module under `cmd/`.

mod cmd;
mod output;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::{de::DeserializeOwned, Serialize};
use vpcroute_bus::{connect, request, ConnectError, NatsArgs, Pager, Startup};
use vpcroute_protocol::page::PagedRequest;
use vpcroute_protocol::{ErrorBody, ErrorCode};

use cmd::{acl, import, log, ping, router, service, show, tier, vm, vpc, zone};
use output::Output;

#[derive(Debug, Parser)]
#[command(
    name = "vpcctl",
    version,
    about = "Control vpcroute: zones, VPCs, tiers, VMs"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Args)]
struct Global {
    /// Print the result (or error) as JSON.
    #[arg(long, global = true)]
    json: bool,
    /// Idempotency key: re-sending a command with the same id returns the
    /// original answer instead of acting twice. Default: a fresh UUID.
    #[arg(long, global = true)]
    request_id: Option<String>,
    /// How long to wait for an answer.
    #[arg(long, global = true, default_value = "10s", value_parser = vpcroute_bus::parse_duration)]
    timeout: Duration,
    #[command(flatten)]
    nats: NatsArgs,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Dynamically routed zones and their super-CIDRs.
    #[command(subcommand)]
    Zone(zone::ZoneCmd),
    /// VPCs carved from their zone's super-CIDRs.
    #[command(subcommand)]
    Vpc(vpc::VpcCmd),
    /// Tiers carved from their VPC.
    #[command(subcommand)]
    Tier(tier::TierCmd),
    /// VM addresses from their tier.
    #[command(subcommand)]
    Vm(vm::VmCmd),
    /// Network ACL lists of a VPC, attached to its tiers.
    #[command(subcommand)]
    Acl(acl::AclCmd),
    /// Read-only views.
    #[command(subcommand)]
    Show(show::ShowCmd),
    /// Virtual routers: desired configuration.
    #[command(subcommand)]
    Router(router::RouterCmd),
    /// The services themselves: how far each has processed, how its log
    /// is written.
    #[command(subcommand)]
    Service(service::ServiceCmd),
    /// Event log maintenance.
    #[command(subcommand)]
    Log(log::LogCmd),
    /// Create many VPCs, lists, tiers and VMs from a JSON Lines file of
    /// ipam requests (a migration), pipelined; safe to run again.
    Import(import::ImportArgs),
    /// Whether a service answers on the bus (NATS Services API ping):
    /// exits non-zero when none does. The containers' healthcheck.
    Ping(ping::PingArgs),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.global.json;
    match run(cli).await {
        Ok(out) => {
            output::print_ok(&out, json);
            if out.failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            output::print_err(&e, json);
            ExitCode::FAILURE
        }
    }
}

/// The connection every bus command shares, and the global options it
/// sends with.
pub struct Ctx {
    pub client: async_nats::Client,
    pub request_id: String,
    pub timeout: Duration,
    /// `--json`: commands that print as they read need it.
    pub json: bool,
}

impl Ctx {
    pub async fn call<Req: Serialize, Resp: DeserializeOwned + Serialize>(
        &self,
        subject: &str,
        req: &Req,
    ) -> Result<Resp, ErrorBody> {
        request(&self.client, subject, req, self.timeout)
            .await
            .map_err(|e| e.into_body())
    }

    /// The pages of a paged query, starting with `first`.
    pub fn pages<Req: PagedRequest + Serialize>(
        &self,
        subject: &'static str,
        first: Req,
    ) -> Pager<'_, Req> {
        Pager::new(&self.client, subject, first, self.timeout)
    }
}

async fn run(cli: Cli) -> Result<Output, ErrorBody> {
    // `log verify` reads files and needs no bus.
    if let Cmd::Log(cmd) = cli.command {
        return cmd.run();
    }
    // Connect before any command checks its flags: with no bus every
    // command fails the same way (`unavailable`), as it always has.
    let g = cli.global;
    let client = connect(&g.nats, "vpcctl", Startup::FailFast)
        .await
        .map_err(|e| {
            // A URL refused for what it holds is bad input; anything else
            // means the bus cannot be reached.
            let code = match e {
                ConnectError::CredentialsInUrl { .. } => ErrorCode::InvalidRequest,
                _ => ErrorCode::Unavailable,
            };
            ErrorBody::new(code, e.to_string())
        })?;
    let ctx = Ctx {
        client,
        request_id: g
            .request_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        timeout: g.timeout,
        json: g.json,
    };
    match cli.command {
        Cmd::Zone(cmd) => cmd.run(&ctx).await,
        Cmd::Vpc(cmd) => cmd.run(&ctx).await,
        Cmd::Tier(cmd) => cmd.run(&ctx).await,
        Cmd::Vm(cmd) => cmd.run(&ctx).await,
        Cmd::Acl(cmd) => cmd.run(&ctx).await,
        Cmd::Show(cmd) => cmd.run(&ctx).await,
        Cmd::Router(cmd) => cmd.run(&ctx).await,
        Cmd::Service(cmd) => cmd.run(&ctx).await,
        Cmd::Import(args) => args.run(&ctx).await,
        Cmd::Ping(args) => args.run(&ctx).await,
        Cmd::Log(_) => unreachable!("handled above"),
    }
}
