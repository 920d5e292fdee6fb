//! The HTTP side and the list calls of the simulator.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, Request, Response};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::model::Model;
use super::verify::{servlet_params, verify_request, Refused};

/// One request as the simulator saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub command: Option<String>,
    /// Decoded parameters, `signature` left out.
    pub params: BTreeMap<String, String>,
    pub status: u16,
    pub refused: Option<Refused>,
}

impl Recorded {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

pub struct CloudStackSim {
    addr: SocketAddr,
    model: Arc<Mutex<Model>>,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for CloudStackSim {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// CloudStack's `ApiServer.JSONcontentType` default.
const JSON_CONTENT_TYPE: &str = "application/json; charset=UTF-8";
/// BaseListCmd's cap, `default.page.size`.
const MAX_PAGE_SIZE: usize = 500;
const UNAUTHORIZED_TEXT: &str = "unable to verify user credentials and/or request signature";
/// ApiErrorCode.PARAM_ERROR and the cserrorcode of
/// InvalidParameterValueException (CSExceptionErrorCode).
const PARAM_ERROR: u16 = 431;
const CS_INVALID_PARAMETER: u32 = 4350;

/// An error answer: (HTTP status = errorcode, cserrorcode, errortext).
type ApiFailure = (u16, Option<u32>, String);

fn invalid(text: impl Into<String>) -> ApiFailure {
    (PARAM_ERROR, Some(CS_INVALID_PARAMETER), text.into())
}

impl CloudStackSim {
    /// Listens on a free loopback port; serves until dropped.
    pub async fn start(model: Model) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the simulator");
        let addr = listener.local_addr().unwrap();
        let model = Arc::new(Mutex::new(model));
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let (m, r) = (model.clone(), recorded.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (m, r) = (m.clone(), r.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let (m, r) = (m.clone(), r.clone());
                        async move { Ok::<_, Infallible>(handle(req, &m, &r).await) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Self {
            addr,
            model,
            recorded,
            accept,
        }
    }

    /// `http://127.0.0.1:PORT/client/api`
    pub fn url(&self) -> String {
        format!("http://{}/client/api", self.addr)
    }

    /// The model, to read or change between calls.
    pub fn model(&self) -> MutexGuard<'_, Model> {
        self.model.lock().unwrap()
    }

    /// Every request so far, in order.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.recorded.lock().unwrap().clone()
    }
}

fn respond(status: u16, body: String, content_type: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("Content-Type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn error_body(response_name: &str, (code, cs, text): &ApiFailure) -> String {
    let mut inner = Map::new();
    inner.insert("uuidList".into(), json!([]));
    inner.insert("errorcode".into(), json!(code));
    if let Some(cs) = cs {
        inner.insert("cserrorcode".into(), json!(cs));
    }
    inner.insert("errortext".into(), json!(text));
    json!({ response_name: inner }).to_string()
}

async fn handle(
    req: Request<Incoming>,
    model: &Mutex<Model>,
    recorded: &Mutex<Vec<Recorded>>,
) -> Response<Full<Bytes>> {
    if req.uri().path() != "/client/api" {
        return respond(404, "not found".into(), "text/plain");
    }
    let query = req.uri().query().unwrap_or("").to_string();
    let is_post = req.method() == hyper::Method::POST;
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    // The servlet's parameter map holds a POST's form fields; utf8Fixup
    // then lays the query string's over them.
    let raw = if is_post {
        format!("{}&{query}", String::from_utf8_lossy(&body))
    } else {
        query
    };
    let params = match servlet_params(&raw) {
        Ok(p) => p,
        Err(e) => return respond(400, e, "text/plain"),
    };
    if !params
        .get("response")
        .is_some_and(|r| r.eq_ignore_ascii_case("json"))
    {
        // CloudStack would answer XML; vpcroute only asks for JSON.
        return respond(
            400,
            "this simulator answers response=json only".into(),
            "text/plain",
        );
    }
    let command = params.get("command").cloned();
    let known = command.as_deref().is_some_and(|c| COMMANDS.contains(&c));
    let response_name = match (&command, known) {
        (Some(c), true) => format!("{}response", c.to_lowercase()),
        _ => "errorresponse".to_string(),
    };
    let mut record = Recorded {
        command: command.clone(),
        params: params
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("signature"))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect(),
        status: 200,
        refused: None,
    };
    let model = model.lock().unwrap();
    let verified = if known {
        verify_request(&params, |key| model.secret_of(key))
    } else {
        // verifyRequest returns false for a command it does not know.
        Err(Refused::MissingSignatureOrApiKey)
    };
    let (status, body) = match verified {
        Err(why) => {
            record.refused = Some(why);
            (
                401,
                error_body(&response_name, &(401, None, UNAUTHORIZED_TEXT.into())),
            )
        }
        Ok(_) => match list(command.as_deref().unwrap(), &params, &model) {
            Ok(inner) => (200, json!({ response_name.as_str(): inner }).to_string()),
            Err(failure) => (failure.0, error_body(&response_name, &failure)),
        },
    };
    drop(model);
    record.status = status;
    recorded.lock().unwrap().push(record);
    respond(status, body, JSON_CONTENT_TYPE)
}

const COMMANDS: &[&str] = &[
    "listZones",
    "listVPCOfferings",
    "listVPCs",
    "listNetworks",
    "listVirtualMachines",
    "listNics",
    "listNetworkACLLists",
    "listNetworkACLs",
    "listRouters",
    "listHosts",
];

/// A filter parameter: absent matches everything.
fn is(params: &BTreeMap<String, String>, name: &str, value: &str) -> bool {
    params.get(name).is_none_or(|want| want == value)
}

fn is_opt(params: &BTreeMap<String, String>, name: &str, value: Option<&str>) -> bool {
    params
        .get(name)
        .is_none_or(|want| Some(want.as_str()) == value)
}

fn keyword(params: &BTreeMap<String, String>, name: &str) -> bool {
    params
        .get("keyword")
        .is_none_or(|k| name.to_lowercase().contains(&k.to_lowercase()))
}

fn list(command: &str, p: &BTreeMap<String, String>, m: &Model) -> Result<Value, ApiFailure> {
    // network id → VPC id, built only when a VM filter needs it.
    let vpc_of: std::collections::HashMap<&str, &str> = if p.contains_key("vpcid") {
        m.networks
            .iter()
            .filter_map(|n| Some((n.id.as_str(), n.vpcid.as_deref()?)))
            .collect()
    } else {
        Default::default()
    };
    let vpc_of_network = |net: &str| vpc_of.get(net).copied();
    match command {
        "listZones" => page(p, "zone", m.zones.iter().filter(|z| is(p, "id", &z.id))),
        "listVPCOfferings" => page(
            p,
            "vpcoffering",
            m.vpc_offerings.iter().filter(|o| is(p, "id", &o.id)),
        ),
        "listVPCs" => page(
            p,
            "vpc",
            m.vpcs.iter().filter(|v| {
                is(p, "id", &v.id)
                    && is(p, "zoneid", &v.zoneid)
                    && is(p, "vpcofferingid", &v.vpcofferingid)
                    && keyword(p, &v.name)
            }),
        ),
        "listNetworks" => page(
            p,
            "network",
            m.networks.iter().filter(|n| {
                is(p, "id", &n.id)
                    && is(p, "zoneid", &n.zoneid)
                    && is_opt(p, "vpcid", n.vpcid.as_deref())
                    && keyword(p, &n.name)
            }),
        ),
        "listVirtualMachines" => page(
            p,
            "virtualmachine",
            m.vms.iter().filter(|vm| {
                is(p, "id", &vm.id)
                    && is(p, "zoneid", &vm.zoneid)
                    && (!p.contains_key("networkid")
                        || vm.nic.iter().any(|n| is(p, "networkid", &n.networkid)))
                    && (!p.contains_key("vpcid")
                        || vm
                            .nic
                            .iter()
                            .any(|n| is_opt(p, "vpcid", vpc_of_network(&n.networkid))))
            }),
        ),
        "listNics" => {
            let Some(vm_id) = p.get("virtualmachineid") else {
                return Err(invalid("Unable to execute API command listnics due to missing parameter virtualmachineid"));
            };
            let vm = m.vms.iter().find(|vm| &vm.id == vm_id).ok_or_else(|| {
                invalid(format!(
                    "Unable to find a virtual machine with specified id {vm_id}"
                ))
            })?;
            // NicResponse names its VM; listVirtualMachines' nic entries do not.
            let nics = vm
                .nic
                .iter()
                .filter(|n| is(p, "networkid", &n.networkid))
                .map(|n| {
                    let mut v = serde_json::to_value(n).unwrap();
                    v["virtualmachineid"] = json!(vm.id);
                    v
                });
            page(p, "nic", nics.collect::<Vec<_>>().iter())
        }
        "listNetworkACLLists" => page(
            p,
            "networkacllist",
            m.acl_lists
                .iter()
                .filter(|l| is(p, "id", &l.id) && is_opt(p, "vpcid", l.vpcid.as_deref())),
        ),
        "listNetworkACLs" => page(
            p,
            "networkacl",
            m.acl_items.iter().filter(|i| {
                is(p, "id", &i.id)
                    && is(p, "aclid", &i.aclid)
                    && is(p, "traffictype", &i.traffictype)
            }),
        ),
        "listRouters" => page(
            p,
            "router",
            m.routers.iter().filter(|r| {
                is(p, "id", &r.id)
                    && is(p, "zoneid", &r.zoneid)
                    && is_opt(p, "vpcid", r.vpcid.as_deref())
                    && is_opt(p, "hostid", r.hostid.as_deref())
            }),
        ),
        "listHosts" => page(
            p,
            "host",
            m.hosts.iter().filter(|h| {
                is(p, "id", &h.id) && is(p, "zoneid", &h.zoneid) && is(p, "type", &h.host_type)
            }),
        ),
        other => unreachable!("{other} is in COMMANDS"),
    }
}

/// BaseListCmd paging and ApiResponseSerializer's list shape.
fn page<'a, T: Serialize + 'a>(
    p: &BTreeMap<String, String>,
    item_key: &str,
    items: impl Iterator<Item = &'a T>,
) -> Result<Value, ApiFailure> {
    let number = |name: &str| -> Result<Option<i64>, ApiFailure> {
        p.get(name)
            .map(|v| v.parse::<i64>().map_err(|_| invalid(format!("Unable to execute API command due to invalid value. Invalid parameter {name} value={v}"))))
            .transpose()
    };
    let (page_no, page_size) = (number("page")?, number("pagesize")?);
    if page_size.is_some() && page_no.is_none() {
        return Err(invalid(
            "\"page\" parameter is required when \"pagesize\" is specified",
        ));
    }
    let page_size = match page_size {
        Some(-1) => usize::MAX,
        Some(n) if n > MAX_PAGE_SIZE as i64 => {
            return Err(invalid(format!(
                "Page size can't exceed max allowed page size value: {MAX_PAGE_SIZE}"
            )))
        }
        Some(n) if n < 1 => return Err(invalid(format!("Invalid pagesize {n}"))),
        Some(n) => n as usize,
        None => MAX_PAGE_SIZE,
    };
    let page_no = page_no.unwrap_or(1);
    if page_no < 1 {
        return Err(invalid(format!("Invalid page {page_no}")));
    }
    // One pass, nothing but the page kept: the benchmark's zone has a
    // million NICs, listed 500 at a time.
    let start = (page_no as usize - 1).saturating_mul(page_size);
    let mut count = 0usize;
    let mut shown = Vec::new();
    for item in items {
        if count >= start && shown.len() < page_size {
            shown.push(serde_json::to_value(item).unwrap());
        }
        count += 1;
    }
    let mut inner = Map::new();
    if count != 0 {
        inner.insert("count".into(), json!(count));
    }
    if !shown.is_empty() {
        inner.insert(item_key.into(), Value::Array(shown));
    }
    Ok(Value::Object(inner))
}
