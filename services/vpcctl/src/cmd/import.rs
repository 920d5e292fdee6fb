//! `vpcctl import FILE`: bring an existing zone's VPCs, lists, tiers and
//! VMs into vpcroute in one run (a migration), as ipam's own requests.
//!
//! The file is JSON Lines, one request a line:
//! `{"op": "vpc.allocate", "request": {...}}`, where `op` names an ipam
//! request subject (`vpcroute.ipam.<op>`) and `request` is its body as the
//! schema under `schemas/ipam/` describes it. The zone itself is enabled
//! first, with `vpcctl zone enable` (its key is never put in a file).
//!
//! Why a pipelined client and not a batch request: every item still is one
//! ordinary request, so it is validated, decided, made durable and
//! answered exactly as when CloudStack sends it, and a batch would only
//! save the per-message cost. ipam's event log commits in groups, so many
//! requests in flight on one connection is what makes it fast (BENCHMARKS.md
//! §3: ~10,000-15,000 durable allocations/s at 64 in flight, against
//! ~2,000/s one at a time).
//!
//! Order: an item may need one of an earlier kind (a tier its VPC, a VM
//! its tier), and in-flight requests are answered in any order, so the
//! items go in phases by kind (`PHASES`), each phase finished before the
//! next starts; within a phase every item is independent.
//!
//! Idempotency: an item without a `request_id` gets one derived from its
//! content, so running the same file again returns the recorded answers
//! instead of acting twice; an interrupted import is finished by running
//! it again.
//!
//! Bad input changes nothing: the whole file is read and checked (JSON,
//! known op, an object body) before the first request is sent.

use std::path::PathBuf;
use std::time::Instant;

use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use vpcroute_bus::{request, subjects};
use vpcroute_protocol::{ErrorBody, ErrorCode};

use crate::output::Output;
use crate::Ctx;

/// The ops an import may hold, in the order their phases run: each kind
/// may refer only to kinds of earlier phases.
const PHASES: &[(&str, &str)] = &[
    ("vpc.allocate", subjects::ipam::VPC_ALLOCATE),
    ("acl.create", subjects::ipam::ACL_CREATE),
    ("acl.rule.add", subjects::ipam::ACL_RULE_ADD),
    ("tier.allocate", subjects::ipam::TIER_ALLOCATE),
    ("tier.set_acl", subjects::ipam::TIER_SET_ACL),
    ("vm.allocate", subjects::ipam::VM_ALLOCATE),
];

/// At most this many failures are listed in the answer; all are counted.
const FAILURES_LISTED: usize = 100;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// JSON Lines file of requests (`-` for standard input).
    file: PathBuf,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=4096))]
    window: u32,
}

/// One line of the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    op: String,
    request: Map<String, Value>,
}

/// One checked item, ready to send.
struct Item {
    line: usize,
    phase: usize,
    body: Map<String, Value>,
}

/// An item ipam refused (or that got no answer).
#[derive(Debug, Serialize)]
struct Failure {
    line: usize,
    op: &'static str,
    error: ErrorBody,
}

#[derive(Debug, Serialize)]
struct ImportSummary {
    items: usize,
    succeeded: usize,
    failed: usize,
    /// Per op, in phase order: how many items it had.
    per_op: Map<String, Value>,
    /// The first `FAILURES_LISTED` failures, in line order.
    failures: Vec<Failure>,
    elapsed_s: f64,
}

impl ImportArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<Output, ErrorBody> {
        let text = read_input(&self.file)?;
        let items = parse(&text)?;
        let start = Instant::now();
        let mut failures = Vec::new();
        let mut per_op = Map::new();
        for (phase, (op, subject)) in PHASES.iter().enumerate() {
            let batch: Vec<&Item> = items.iter().filter(|i| i.phase == phase).collect();
            per_op.insert(op.to_string(), batch.len().into());
            failures.extend(send_phase(ctx, op, subject, &batch, self.window as usize).await);
        }
        failures.sort_by_key(|f| f.line);
        let failed = failures.len();
        failures.truncate(FAILURES_LISTED);
        let summary = ImportSummary {
            items: items.len(),
            succeeded: items.len() - failed,
            failed,
            per_op,
            failures,
            elapsed_s: start.elapsed().as_secs_f64(),
        };
        // The summary says which lines failed; the exit status says that
        // some did.
        Ok(Output {
            json: serde_json::to_value(&summary).expect("json"),
            human: human(&summary),
            printed: false,
            failed: summary.failed > 0,
        })
    }
}

fn read_input(file: &PathBuf) -> Result<String, ErrorBody> {
    let read = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    };
    read.map_err(|e| {
        ErrorBody::new(
            ErrorCode::InvalidRequest,
            format!("cannot read {}: {e}", file.display()),
        )
    })
}

/// Checks every line; the first bad one refuses the whole file.
fn parse(text: &str) -> Result<Vec<Item>, ErrorBody> {
    let mut items = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let bad = |why: String| {
            ErrorBody::new(
                ErrorCode::InvalidRequest,
                format!("line {line}: {why}; nothing was sent"),
            )
        };
        let parsed: Line = serde_json::from_str(raw).map_err(|e| bad(e.to_string()))?;
        let phase = PHASES
            .iter()
            .position(|(op, _)| *op == parsed.op)
            .ok_or_else(|| {
                let known: Vec<&str> = PHASES.iter().map(|(op, _)| *op).collect();
                bad(format!(
                    "unknown op {:?} (one of: {})",
                    parsed.op,
                    known.join(", ")
                ))
            })?;
        let mut body = parsed.request;
        if !body.contains_key("request_id") {
            let id = derived_request_id(&parsed.op, &body);
            body.insert("request_id".into(), id.into());
        }
        items.push(Item { line, phase, body });
    }
    Ok(items)
}

/// The request id of an item that has none: the same op and body always
/// give the same id, so a second run of the file is answered from ipam's
/// record. (serde_json's map keeps keys sorted, so the body's text is
/// canonical.)
fn derived_request_id(op: &str, body: &Map<String, Value>) -> String {
    let mut h = Sha256::new();
    h.update(op.as_bytes());
    h.update(b"\n");
    h.update(Value::Object(body.clone()).to_string().as_bytes());
    format!("import-{}", &hex::encode(h.finalize())[..32])
}

/// Sends one phase's items with up to `window` in flight; returns the
/// failures.
async fn send_phase(
    ctx: &Ctx,
    op: &'static str,
    subject: &str,
    batch: &[&Item],
    window: usize,
) -> Vec<Failure> {
    stream::iter(batch.iter())
        .map(|item| async move {
            let sent: Result<Value, _> =
                request(&ctx.client, subject, &item.body, ctx.timeout).await;
            sent.err().map(|e| Failure {
                line: item.line,
                op,
                error: e.into_body(),
            })
        })
        .buffer_unordered(window)
        .filter_map(|f| async move { f })
        .collect()
        .await
}

fn human(s: &ImportSummary) -> String {
    let mut out = format!(
        "imported {} of {} items in {:.1} s ({} failed)",
        s.succeeded, s.items, s.elapsed_s, s.failed
    );
    for f in &s.failures {
        out.push_str(&format!(
            "\n  line {}: {} {} ({})",
            f.line, f.op, f.error.message, f.error.code
        ));
    }
    out
}
