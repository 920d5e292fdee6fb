//! A typed ipam client for workloads: direct requests through
//! `vpcroute_bus::request`, no process per call.

use std::time::Duration;

use serde::{de::DeserializeOwned, Serialize};
use vpcroute_bus::{request, subjects::ipam as subj, RequestError};
use vpcroute_protocol::ipam::*;

#[derive(Clone)]
pub struct Client {
    nats: async_nats::Client,
    timeout: Duration,
}

impl Client {
    /// Connects (retrying while the server comes up) with reconnection on.
    pub async fn connect(nats_url: &str) -> Client {
        let nats = vpcroute_bus::connect(
            &vpcroute_bus::NatsArgs::plain(nats_url),
            "vpcroute-tests",
            vpcroute_bus::Startup::FailFast,
        )
        .await
        .unwrap_or_else(|e| panic!("test client cannot connect: {e}"));
        Client {
            nats,
            timeout: Duration::from_secs(5),
        }
    }

    /// The same client with another per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    pub fn nats(&self) -> &async_nats::Client {
        &self.nats
    }

    pub async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        subject: &str,
        req: &Req,
    ) -> Result<Resp, RequestError> {
        request(&self.nats, subject, req, self.timeout).await
    }

    /// Sends raw JSON and returns the raw reply envelope.
    pub async fn call_raw(&self, subject: &str, body: &serde_json::Value) -> serde_json::Value {
        let payload = serde_json::to_vec(body).expect("json");
        let msg = tokio::time::timeout(
            self.timeout,
            self.nats.request(subject.to_string(), payload.into()),
        )
        .await
        .unwrap_or_else(|_| panic!("no reply on {subject}"))
        .unwrap_or_else(|e| panic!("request on {subject}: {e}"));
        serde_json::from_slice(&msg.payload).expect("reply is JSON")
    }

    pub async fn zone_enable(&self, req: &ZoneEnable) -> Result<ZoneRecord, RequestError> {
        self.call(subj::ZONE_ENABLE, req).await
    }
    pub async fn zone_update(&self, req: &ZoneUpdate) -> Result<ZoneRecord, RequestError> {
        self.call(subj::ZONE_UPDATE, req).await
    }
    pub async fn zone_show(&self, zone: &str) -> Result<ZoneView, RequestError> {
        self.call(subj::ZONE_SHOW, &Show { name: zone.into() })
            .await
    }
    pub async fn vpc_allocate(&self, req: &VpcAllocate) -> Result<VpcRecord, RequestError> {
        self.call(subj::VPC_ALLOCATE, req).await
    }
    pub async fn vpc_release(&self, req: &Release) -> Result<Released, RequestError> {
        self.call(subj::VPC_RELEASE, req).await
    }
    pub async fn vpc_show(&self, vpc: &str) -> Result<VpcView, RequestError> {
        self.call(subj::VPC_SHOW, &Show { name: vpc.into() }).await
    }
    pub async fn tier_allocate(&self, req: &TierAllocate) -> Result<TierRecord, RequestError> {
        self.call(subj::TIER_ALLOCATE, req).await
    }
    pub async fn tier_release(&self, req: &Release) -> Result<Released, RequestError> {
        self.call(subj::TIER_RELEASE, req).await
    }
    pub async fn vm_allocate(&self, req: &VmAllocate) -> Result<VmRecord, RequestError> {
        self.call(subj::VM_ALLOCATE, req).await
    }
    pub async fn vm_release(&self, req: &Release) -> Result<Released, RequestError> {
        self.call(subj::VM_RELEASE, req).await
    }
    pub async fn events_read(&self, from_seq: u64, limit: u32) -> Result<EventsPage, RequestError> {
        self.call(subj::EVENTS_READ, &EventsRead { from_seq, limit })
            .await
    }

    /// Every event of the log, page by page.
    pub async fn all_events(&self) -> Vec<vpcroute_protocol::BusEvent> {
        let mut out = Vec::new();
        loop {
            let page = self
                .events_read(out.len() as u64 + 1, 1000)
                .await
                .expect("events.read");
            if page.events.is_empty() {
                return out;
            }
            out.extend(page.events);
        }
    }

    /// Retries `f` on `unavailable` (no responder, timeout) until it gets an
    /// answer or `deadline` passes. The caller keeps the request id the
    /// same in every attempt, so a retry can never act twice.
    pub async fn retry<T, F, Fut>(deadline: Duration, mut f: F) -> Result<T, RequestError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, RequestError>>,
    {
        let end = tokio::time::Instant::now() + deadline;
        loop {
            match f().await {
                Err(e @ (RequestError::Unavailable(_) | RequestError::NoResponders(_))) => {
                    if tokio::time::Instant::now() > end {
                        return Err(e);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => return other,
            }
        }
    }
}
