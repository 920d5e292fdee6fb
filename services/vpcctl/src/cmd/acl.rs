//! `vpcctl acl`: a VPC's network ACL lists and their rules.

use std::fmt::Write;

use clap::Subcommand;
use vpcroute_bus::subjects;
use vpcroute_protocol::acl::{self, AclView, Traffic};
use vpcroute_protocol::ipam::{Release, Show};
use vpcroute_protocol::ErrorBody;

use crate::output::{record, Output};
use crate::Ctx;

#[derive(Debug, Subcommand)]
pub enum AclCmd {
    /// Create an empty list for a VPC (ingress denied until rules allow it).
    Create {
        acl: String,
        #[arg(long)]
        vpc: String,
    },
    /// Delete a list no tier uses.
    Delete { acl: String },
    /// A list's rules, in number order, and the tiers using it.
    Show { acl: String },
    /// Rules of a list.
    #[command(subcommand)]
    Rule(AclRuleCmd),
}

#[derive(Debug, Subcommand)]
pub enum AclRuleCmd {
    /// Add a rule. Rules are evaluated in number order; the first match
    /// decides. Ingress matches the source (--cidr), egress the destination.
    Add {
        acl: String,
        #[arg(long)]
        number: u32,
        /// Repeat, or separate with commas.
        #[arg(long = "cidr", required = true, value_delimiter = ',')]
        cidrs: Vec<String>,
        /// all, tcp, udp, icmp or a protocol number.
        #[arg(long)]
        protocol: String,
        /// A port or a range A-B (tcp and udp).
        #[arg(long)]
        ports: Option<String>,
        /// ICMP type (-1: any).
        #[arg(long, allow_hyphen_values = true)]
        icmp_type: Option<i32>,
        /// ICMP code (-1: any).
        #[arg(long, allow_hyphen_values = true)]
        icmp_code: Option<i32>,
        #[arg(long, value_enum)]
        traffic: TrafficArg,
        #[arg(long, value_enum)]
        action: ActionArg,
    },
    /// Delete a rule by number.
    Delete {
        acl: String,
        #[arg(long)]
        number: u32,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum TrafficArg {
    Ingress,
    Egress,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ActionArg {
    Allow,
    Deny,
}

impl AclCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<Output, ErrorBody> {
        let request_id = ctx.request_id.clone();
        match self {
            AclCmd::Create { acl, vpc } => {
                let req = acl::AclCreate {
                    request_id,
                    acl,
                    vpc,
                };
                let v: AclView = ctx.call(subjects::ipam::ACL_CREATE, &req).await?;
                Ok(acl_view(&v))
            }
            AclCmd::Delete { acl } => {
                let req = Release {
                    request_id,
                    name: acl,
                };
                let v: AclView = ctx.call(subjects::ipam::ACL_DELETE, &req).await?;
                Ok(record(&v, format!("deleted ACL list {}", v.acl)))
            }
            AclCmd::Show { acl } => show(ctx, acl).await,
            AclCmd::Rule(rule) => rule.run(ctx).await,
        }
    }
}

impl AclRuleCmd {
    async fn run(self, ctx: &Ctx) -> Result<Output, ErrorBody> {
        let request_id = ctx.request_id.clone();
        let v: AclView = match self {
            AclRuleCmd::Add {
                acl,
                number,
                cidrs,
                protocol,
                ports,
                icmp_type,
                icmp_code,
                traffic,
                action,
            } => {
                let req = acl::AclRuleAdd {
                    request_id,
                    acl,
                    number,
                    cidrs,
                    protocol,
                    ports,
                    icmp_type,
                    icmp_code,
                    traffic: match traffic {
                        TrafficArg::Ingress => acl::Traffic::Ingress,
                        TrafficArg::Egress => acl::Traffic::Egress,
                    },
                    action: match action {
                        ActionArg::Allow => acl::AclAction::Allow,
                        ActionArg::Deny => acl::AclAction::Deny,
                    },
                };
                ctx.call(subjects::ipam::ACL_RULE_ADD, &req).await?
            }
            AclRuleCmd::Delete { acl, number } => {
                let req = acl::AclRuleDelete {
                    request_id,
                    acl,
                    number,
                };
                ctx.call(subjects::ipam::ACL_RULE_DELETE, &req).await?
            }
        };
        Ok(acl_view(&v))
    }
}

/// `acl show` and `show acl`.
pub async fn show(ctx: &Ctx, acl: String) -> Result<Output, ErrorBody> {
    let v: AclView = ctx
        .call(subjects::ipam::ACL_SHOW, &Show { name: acl })
        .await?;
    Ok(acl_view(&v))
}

/// A list as a table, one line per rule in evaluation order, then the
/// defaults that apply after the last rule.
fn acl_view(v: &AclView) -> Output {
    let mut s = format!("acl {} (vpc {})\n", v.acl, v.vpc);
    let _ = writeln!(
        s,
        "  {:>6}  {:<8} {:<6} {:<5} {:<11} cidrs",
        "number", "traffic", "action", "proto", "ports/icmp"
    );
    for r in &v.rules {
        let detail = match (r.ports, r.icmp_type, r.icmp_code) {
            (Some(p), _, _) => p.to_string(),
            (None, Some(t), Some(c)) => format!("type {t}/{c}"),
            (None, Some(t), None) => format!("type {t}"),
            _ => "-".to_string(),
        };
        let cidrs: Vec<String> = r.cidrs.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            s,
            "  {:>6}  {:<8} {:<6} {:<5} {:<11} {}",
            r.number,
            format!("{:?}", r.traffic).to_lowercase(),
            format!("{:?}", r.action).to_lowercase(),
            r.protocol.to_string(),
            detail,
            cidrs.join(",")
        );
    }
    let has_egress = v.rules.iter().any(|r| r.traffic == Traffic::Egress);
    let _ = writeln!(
        s,
        "  then: ingress deny, egress {}",
        if has_egress { "deny" } else { "allow" }
    );
    if !v.tiers.is_empty() {
        let _ = writeln!(s, "  tiers: {}", v.tiers.join(", "));
    }
    record(v, s)
}
