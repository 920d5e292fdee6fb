//! `vpcctl show zone`: a zone of any size, printed as it is read.
//!
//! ipam's `zone.export` pages (VPC, tier and VM rows in tree order) are
//! nested back into VPC views one VPC at a time and printed at once, so
//! the first VPC shows before the last page arrives and memory holds one
//! VPC. The zone's OSPF settings and areas (area-registry's `zone.areas`,
//! about 60 bytes a VPC) are read first, since `--json` prints `ospf`, with
//! every area, before `vpcs`. The output is byte for byte what the whole
//! view printed at once was: `--json` writes the keys in the order
//! serde_json writes a map (sorted), each VPC pretty-printed in place.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;

use serde_json::{Map, Value};
use vpcroute_bus::subjects;
use vpcroute_protocol::areas::{AreaId, ZoneOspfPage, ZoneOspfView};
use vpcroute_protocol::config::{self, KeyRotationView, RouterPage};
use vpcroute_protocol::ipam::{ExportRow, Show, VpcAssembler, VpcView, ZoneSummary};
use vpcroute_protocol::{ErrorBody, ErrorCode, Page, PagedShow};

use super::show::{rotation_line, usage_line, write_vpc};
use crate::output::{record, Output};
use crate::Ctx;

/// The zone's OSPF settings with every area, read page by page; none if
/// the registry does not answer (the zone is then shown without them).
async fn ospf_of(ctx: &Ctx, zone: &str, areas: bool) -> Option<ZoneOspfView> {
    let mut req = PagedShow::first(zone);
    if !areas {
        req.limit = Some(1);
    }
    let mut pages = ctx.pages(subjects::areas::ZONE_AREAS, req);
    let mut view: Option<ZoneOspfView> = None;
    while let Ok(Some(page)) = pages.next::<ZoneOspfPage>().await {
        match &mut view {
            None => view = Some(page.view),
            Some(v) => v.areas.extend(page.view.areas),
        }
        if !areas {
            break;
        }
    }
    view
}

/// The zone's MD5 key rotation in progress: the config-renderer's to know
/// (it follows the routers' reports); any router of the zone carries it.
async fn rotation_of(ctx: &Ctx, zone: &str) -> Option<KeyRotationView> {
    let first = RouterPage {
        zone: Some(zone.to_string()),
        after: None,
        limit: Some(1),
    };
    let page: Page<config::RouterSummary> =
        ctx.call(subjects::config::ROUTER_PAGE, &first).await.ok()?;
    page.items.into_iter().find_map(|r| r.key_rotation)
}

/// What is printed before the VPCs: JSON fields (`key_rotation`, `ospf`,
/// `super_cidrs`, the usages, `zone`) and the human header lines.
struct Header {
    fields: Map<String, Value>,
    human: String,
}

fn header(
    s: &ZoneSummary,
    ospf: Option<&ZoneOspfView>,
    rotation: Option<&KeyRotationView>,
) -> Header {
    let mut human = String::new();
    let cidrs: Vec<String> = s.super_cidrs.iter().map(|c| c.to_string()).collect();
    let _ = writeln!(human, "zone {}  super-CIDRs {}", s.zone, cidrs.join(", "));
    if let Some(o) = ospf {
        let _ = writeln!(human, "{}", super::zone::ospf_line(o));
    }
    if let Some(r) = rotation {
        let _ = writeln!(human, "{}", rotation_line(r));
    }
    if s.usage_ipv4.total > 0 {
        let _ = writeln!(human, "  IPv4: {}", usage_line(&s.usage_ipv4));
    }
    if s.usage_ipv6.total > 0 {
        let _ = writeln!(human, "  IPv6: {}", usage_line(&s.usage_ipv6));
    }
    let mut fields = Map::new();
    fields.insert("zone".into(), json(&s.zone));
    fields.insert("super_cidrs".into(), json(&s.super_cidrs));
    fields.insert("usage_ipv4".into(), json(&s.usage_ipv4));
    fields.insert("usage_ipv6".into(), json(&s.usage_ipv6));
    if let Some(r) = rotation {
        fields.insert("key_rotation".into(), json(r));
    }
    if let Some(o) = ospf {
        fields.insert("ospf".into(), json(o));
    }
    Header { fields, human }
}

fn json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("json")
}

/// Writes the zone as it is read: header, VPCs, end.
struct Printer {
    json: bool,
    out: std::io::BufWriter<std::io::Stdout>,
    areas: HashMap<String, AreaId>,
    with_ospf: bool,
    vpcs: u64,
    /// The JSON fields that sort after `vpcs`, printed at the end.
    tail: Vec<(String, Value)>,
}

/// `text` (serde_json's pretty form) indented by `by` more spaces.
fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines().collect::<Vec<_>>().join(&format!("\n{pad}"))
}

impl Printer {
    fn start(&mut self, h: Header) -> std::io::Result<()> {
        if !self.json {
            return self.out.write_all(h.human.as_bytes());
        }
        self.out.write_all(b"{\n")?;
        for (k, v) in h.fields {
            if k.as_str() < "vpcs" {
                let v = serde_json::to_string_pretty(&v).expect("json");
                writeln!(self.out, "  {}: {},", Value::from(k), indent(&v, 2))?;
            } else {
                self.tail.push((k, v));
            }
        }
        self.out.write_all(b"  \"vpcs\": [")
    }

    fn vpc(&mut self, v: &VpcView) -> std::io::Result<()> {
        let area = self.areas.get(&v.vpc).copied();
        if !self.json {
            let mut s = String::new();
            write_vpc(&mut s, v, area);
            self.vpcs += 1;
            return self.out.write_all(s.as_bytes());
        }
        let mut value = serde_json::to_value(v).expect("json");
        if self.with_ospf {
            value["area_id"] = serde_json::to_value(area).expect("json");
        }
        let sep = if self.vpcs == 0 { "" } else { "," };
        let text = serde_json::to_string_pretty(&value).expect("json");
        write!(self.out, "{sep}\n    {}", indent(&text, 4))?;
        self.vpcs += 1;
        Ok(())
    }

    fn end(&mut self, more: Option<String>) -> std::io::Result<()> {
        if let (false, Some(note)) = (self.json, &more) {
            writeln!(self.out, "{note}")?;
        }
        if self.json {
            let close = if self.vpcs == 0 { "]" } else { "\n  ]" };
            self.out.write_all(close.as_bytes())?;
            for (k, v) in std::mem::take(&mut self.tail) {
                let v = serde_json::to_string_pretty(&v).expect("json");
                write!(self.out, ",\n  {}: {}", Value::from(k), indent(&v, 2))?;
            }
            self.out.write_all(b"\n}\n")?;
        }
        self.out.flush()
    }
}

fn io_error(e: std::io::Error) -> ErrorBody {
    ErrorBody::new(ErrorCode::Internal, format!("cannot write the output: {e}"))
}

/// `show zone ZONE [--limit N]`: printed VPC by VPC as the pages come.
pub async fn stream(ctx: &Ctx, zone: String, limit: Option<u64>) -> Result<Output, ErrorBody> {
    let summary: ZoneSummary = ctx
        .call(subjects::ipam::ZONE_SUMMARY, &Show { name: zone.clone() })
        .await?;
    let ospf = ospf_of(ctx, &zone, true).await;
    let rotation = rotation_of(ctx, &zone).await;
    let mut h = header(&summary, ospf.as_ref(), rotation.as_ref());
    if limit.is_some() {
        // Said up front (it sorts before `vpcs`): how many there are.
        h.fields.insert("vpc_count".into(), summary.vpcs.into());
    }
    let mut p = Printer {
        json: ctx.json,
        out: std::io::BufWriter::new(std::io::stdout()),
        areas: ospf
            .iter()
            .flat_map(|o| o.areas.iter().map(|a| (a.vpc.clone(), a.area_id)))
            .collect(),
        with_ospf: ospf.is_some(),
        vpcs: 0,
        tail: Vec::new(),
    };
    p.start(h).map_err(io_error)?;
    let mut pages = ctx.pages(subjects::ipam::ZONE_EXPORT, PagedShow::first(&zone));
    let mut nest = VpcAssembler::default();
    let bad = |e: String| ErrorBody::new(ErrorCode::Internal, e);
    'read: while let Some(page) = pages
        .next::<Page<ExportRow>>()
        .await
        .map_err(|e| e.into_body())?
    {
        for row in page.items {
            if let Some(v) = nest.push(row).map_err(bad)? {
                if limit.is_some_and(|n| p.vpcs >= n) {
                    break 'read;
                }
                p.vpc(&v).map_err(io_error)?;
            }
        }
        p.out.flush().map_err(io_error)?;
    }
    if let Some(v) = nest.finish() {
        if limit.is_none_or(|n| p.vpcs < n) {
            p.vpc(&v).map_err(io_error)?;
        }
    }
    let note = limit
        .filter(|_| p.vpcs < summary.vpcs)
        .map(|_| format!("  ({} of {} VPCs shown: --limit)", p.vpcs, summary.vpcs));
    p.end(note).map_err(io_error)?;
    Ok(Output::printed())
}

/// `show zone ZONE --summary`: utilisation and counts (one small reply
/// each from ipam, the registry and the renderer).
pub async fn summary(ctx: &Ctx, zone: String) -> Result<Output, ErrorBody> {
    let s: ZoneSummary = ctx
        .call(subjects::ipam::ZONE_SUMMARY, &Show { name: zone.clone() })
        .await?;
    let ospf = ospf_of(ctx, &zone, false).await;
    let rotation = rotation_of(ctx, &zone).await;
    let h = header(&s, ospf.as_ref(), rotation.as_ref());
    let mut human = h.human;
    let _ = writeln!(
        human,
        "  {} VPCs, {} tiers, {} VMs, {} ACL lists",
        s.vpcs, s.tiers, s.vms, s.acls
    );
    let mut out = record(&s, human);
    if let Some(r) = rotation {
        out.json["key_rotation"] = serde_json::to_value(r).expect("json");
    }
    if let Some(o) = ospf {
        let mut o = serde_json::to_value(o).expect("json");
        // The settings only: the areas are listed by `show zone`.
        o.as_object_mut().map(|m| m.remove("areas"));
        out.json["ospf"] = o;
    }
    Ok(out)
}
