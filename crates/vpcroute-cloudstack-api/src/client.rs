//! The client: signed GETs, CloudStack's response envelope, paging.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::ApiError;
use crate::keys::Credentials;
use crate::sign::{self, Params};
use crate::types::*;

/// CloudStack's `default.page.size` caps `pagesize` at 500 (a larger one is
/// refused with errorcode 431).
pub const MAX_PAGE_SIZE: u32 = 500;

/// How far ahead `expires` is set. The server refuses a past `expires`, and
/// one more than 15 minutes ahead when it enforces timestamps; 5 minutes
/// leaves room for clock skew on both sides.
const EXPIRES_IN: Duration = Duration::from_secs(300);

/// Cheap to clone (one connection pool, shared).
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    api_url: reqwest::Url,
    credentials: Credentials,
    page_size: u32,
}

/// Extra parameters of a list call (`zoneid`, `vpcid`, `id`, ...).
#[derive(Clone, Debug, Default)]
pub struct Filter(Params);

impl Filter {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set(mut self, name: &str, value: impl ToString) -> Self {
        self.0.insert(name.to_string(), value.to_string());
        self
    }
    pub fn id(self, id: Uuid) -> Self {
        self.set("id", id)
    }
    pub fn zone(self, zone: Uuid) -> Self {
        self.set("zoneid", zone)
    }
    pub fn vpc(self, vpc: Uuid) -> Self {
        self.set("vpcid", vpc)
    }
    pub fn network(self, network: Uuid) -> Self {
        self.set("networkid", network)
    }
    pub fn acl(self, acl: Uuid) -> Self {
        self.set("aclid", acl)
    }
    pub fn keyword(self, keyword: &str) -> Self {
        self.set("keyword", keyword)
    }
}

/// Whether a list command takes `listall=true` (the account-owned
/// resources: without it a root admin sees only its own account's).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    AllAccounts,
    Infrastructure,
}

impl Client {
    /// `api_url` is the full endpoint, e.g. `http://cs:8080/client/api`.
    pub fn new(api_url: &str, credentials: Credentials) -> Result<Self, ApiError> {
        let bad = |reason: String| ApiError::BadUrl {
            url: api_url.to_string(),
            reason,
        };
        let url = reqwest::Url::parse(api_url).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
            return Err(bad("it must be an http(s) URL without a query".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| bad(e.without_url().to_string()))?;
        Ok(Self {
            http,
            api_url: url,
            credentials,
            page_size: MAX_PAGE_SIZE,
        })
    }

    /// Page size of list calls, 1..=500.
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.clamp(1, MAX_PAGE_SIZE);
        self
    }

    /// One signed call; returns the object inside CloudStack's envelope
    /// (`{"listvpcsresponse": {...}}` → `{...}`).
    pub async fn call(
        &self,
        command: &str,
        filter: &Filter,
    ) -> Result<Map<String, Value>, ApiError> {
        let mut params = filter.0.clone();
        params.insert("command".into(), command.into());
        params.insert("apiKey".into(), self.credentials.api_key.clone());
        params.insert("response".into(), "json".into());
        params.insert("signatureVersion".into(), "3".into());
        let expires = time::OffsetDateTime::now_utc() + EXPIRES_IN;
        params.insert("expires".into(), sign::expires_value(expires));
        if let Some(name) = params.keys().find(|n| !sign::check_name(n)) {
            return Err(ApiError::BadParameter {
                command: command.into(),
                name: name.clone(),
            });
        }
        let mut url = self.api_url.clone();
        url.set_query(Some(&sign::signed_query(
            &self.credentials.secret_key,
            &params,
        )));
        let transport = |e: reqwest::Error| ApiError::Transport {
            command: command.into(),
            source: e.without_url(),
        };
        let response = self.http.get(url).send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(transport)?;
        unwrap_envelope(command, status, &body)
    }

    /// Every item of a list call, page by page: `page` from 1 with
    /// `pagesize`, until a page is short, the items reach `count`, or a page
    /// has no items (CloudStack then leaves out the array key).
    pub async fn list_all<T: DeserializeOwned>(
        &self,
        command: &str,
        item_key: &str,
        filter: &Filter,
    ) -> Result<Vec<T>, ApiError> {
        let mut items = Vec::new();
        for page in 1u32.. {
            let paged = filter
                .clone()
                .set("page", page)
                .set("pagesize", self.page_size);
            let mut inner = self.call(command, &paged).await?;
            let count = inner.get("count").and_then(Value::as_u64);
            let page_items: Vec<T> = match inner.remove(item_key) {
                None => Vec::new(),
                Some(array) => serde_json::from_value(array).map_err(|e| ApiError::Decode {
                    command: command.into(),
                    http_status: 200,
                    detail: format!("{item_key}: {e}"),
                })?,
            };
            let got = page_items.len();
            items.extend(page_items);
            tracing::debug!(
                command,
                page,
                got,
                total = items.len(),
                ?count,
                "CloudStack list page"
            );
            let reached_count = count.is_some_and(|c| items.len() as u64 >= c);
            if got < self.page_size as usize || reached_count {
                break;
            }
        }
        Ok(items)
    }

    async fn list<T: DeserializeOwned>(
        &self,
        command: &str,
        item_key: &str,
        scope: Scope,
        filter: &Filter,
    ) -> Result<Vec<T>, ApiError> {
        let filter = match scope {
            Scope::AllAccounts => filter.clone().set("listall", "true"),
            Scope::Infrastructure => filter.clone(),
        };
        self.list_all(command, item_key, &filter).await
    }

    pub async fn list_zones(&self, filter: &Filter) -> Result<Vec<Zone>, ApiError> {
        self.list("listZones", "zone", Scope::Infrastructure, filter)
            .await
    }
    pub async fn list_vpc_offerings(&self, filter: &Filter) -> Result<Vec<VpcOffering>, ApiError> {
        self.list(
            "listVPCOfferings",
            "vpcoffering",
            Scope::Infrastructure,
            filter,
        )
        .await
    }
    pub async fn list_vpcs(&self, filter: &Filter) -> Result<Vec<Vpc>, ApiError> {
        self.list("listVPCs", "vpc", Scope::AllAccounts, filter)
            .await
    }
    pub async fn list_networks(&self, filter: &Filter) -> Result<Vec<Network>, ApiError> {
        self.list("listNetworks", "network", Scope::AllAccounts, filter)
            .await
    }
    pub async fn list_virtual_machines(
        &self,
        filter: &Filter,
    ) -> Result<Vec<VirtualMachine>, ApiError> {
        self.list(
            "listVirtualMachines",
            "virtualmachine",
            Scope::AllAccounts,
            filter,
        )
        .await
    }
    /// listNics requires the VM (`virtualmachineid`).
    pub async fn list_nics(&self, vm: Uuid, filter: &Filter) -> Result<Vec<Nic>, ApiError> {
        let filter = filter.clone().set("virtualmachineid", vm);
        self.list("listNics", "nic", Scope::Infrastructure, &filter)
            .await
    }
    pub async fn list_network_acl_lists(
        &self,
        filter: &Filter,
    ) -> Result<Vec<NetworkAclList>, ApiError> {
        self.list(
            "listNetworkACLLists",
            "networkacllist",
            Scope::AllAccounts,
            filter,
        )
        .await
    }
    pub async fn list_network_acls(&self, filter: &Filter) -> Result<Vec<NetworkAcl>, ApiError> {
        self.list("listNetworkACLs", "networkacl", Scope::AllAccounts, filter)
            .await
    }
    pub async fn list_routers(&self, filter: &Filter) -> Result<Vec<Router>, ApiError> {
        self.list("listRouters", "router", Scope::AllAccounts, filter)
            .await
    }
    pub async fn list_hosts(&self, filter: &Filter) -> Result<Vec<Host>, ApiError> {
        self.list("listHosts", "host", Scope::Infrastructure, filter)
            .await
    }
}

/// CloudStack answers `{"<name>response": {...}}` (ApiResponseSerializer),
/// with an error object (`errorcode`, `cserrorcode`, `errortext`) and the
/// error's HTTP status (401, 431, 530, ...) when the call failed.
fn unwrap_envelope(
    command: &str,
    status: u16,
    body: &[u8],
) -> Result<Map<String, Value>, ApiError> {
    let decode = |detail: String| ApiError::Decode {
        command: command.into(),
        http_status: status,
        detail,
    };
    let top: Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| decode(e.to_string()))?;
    let mut values = top.into_iter();
    let inner = match (values.next(), values.next()) {
        (Some((_, Value::Object(inner))), None) => inner,
        _ => return Err(decode("expected one <command>response object".into())),
    };
    let errorcode = inner.get("errorcode").and_then(Value::as_u64);
    if status == 200 && errorcode.is_none() {
        return Ok(inner);
    }
    let errortext = inner
        .get("errortext")
        .and_then(Value::as_str)
        .unwrap_or("(no errortext)")
        .to_string();
    let errorcode = errorcode
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(status);
    if status == 401 || errorcode == 401 {
        return Err(ApiError::Unauthorized {
            command: command.into(),
            http_status: status,
            errortext,
        });
    }
    Err(ApiError::Api {
        command: command.into(),
        http_status: status,
        errorcode,
        cserrorcode: inner
            .get("cserrorcode")
            .and_then(Value::as_u64)
            .and_then(|c| u32::try_from(c).ok()),
        errortext,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_envelope_becomes_a_typed_error() {
        let body = br#"{"listnicsresponse":{"uuidList":[],"errorcode":431,"cserrorcode":9999,"errortext":"missing parameter virtualmachineid"}}"#;
        match unwrap_envelope("listNics", 431, body) {
            Err(ApiError::Api {
                errorcode: 431,
                cserrorcode: Some(9999),
                errortext,
                ..
            }) => {
                assert!(errortext.contains("virtualmachineid"))
            }
            other => panic!("{other:?}"),
        }
        let body = br#"{"listzonesresponse":{"uuidList":[],"errorcode":401,"errortext":"unable to verify user credentials and/or request signature"}}"#;
        assert!(matches!(
            unwrap_envelope("listZones", 401, body),
            Err(ApiError::Unauthorized {
                http_status: 401,
                ..
            })
        ));
        assert!(matches!(
            unwrap_envelope("listZones", 502, b"<html>bad gateway</html>"),
            Err(ApiError::Decode {
                http_status: 502,
                ..
            })
        ));
    }

    #[test]
    fn empty_list_has_no_array_key() {
        let inner = unwrap_envelope("listVPCs", 200, br#"{"listvpcsresponse":{}}"#).unwrap();
        assert!(inner.is_empty());
    }

    #[test]
    fn acl_item_ports_come_as_strings_and_cidrlist_as_one_string() {
        let item: NetworkAcl = serde_json::from_str(
            r#"{"id":"6f1f7f5e-3c1c-4f6e-9d55-1a8e2b3c4d5e","aclid":"0c9d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f",
            "number":10,"cidrlist":"10.0.0.0/8, 192.168.0.0/16","protocol":"tcp","startport":"22",
            "endport":"22","traffictype":"Ingress","action":"Allow","state":"Active","tags":[]}"#,
        )
        .unwrap();
        assert_eq!(item.startport, Some(22));
        assert_eq!(item.cidrlist, vec!["10.0.0.0/8", "192.168.0.0/16"]);
        assert_eq!(item.icmptype, None);
    }
}
