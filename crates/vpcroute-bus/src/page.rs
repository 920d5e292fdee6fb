//! Paged queries: the one mechanism by which every answer that grows with
//! a zone crosses NATS (wire types in `vpcroute_protocol::page`).
//!
//! Why a continuation token, not a stream of messages with an end marker:
//! NATS request/reply delivers one message per request, and a stream of
//! replies to one inbox has no flow control, no ordering guarantee across a
//! reconnect and no way to tell a lost message from a slow one, so the
//! reader would need sequence numbers, acknowledgements and a timeout per
//! message — a protocol of its own. A page per request keeps each exchange
//! an ordinary request (its own timeout, retried by asking again, checked
//! against its schema) and lets the reader go at its own pace. The token
//! is the key of the last item sent, so the service keeps no cursor: items
//! are walked in key order from just after it, which returns every item
//! that exists throughout the read exactly once however the state changes
//! between pages, and costs a service nothing between requests.
//!
//! A page is cut by count (`limit`) and by bytes: it is written item by
//! item and stops before the reply would exceed the server's
//! `max_payload`, read from the connection (`Client::max_payload`, the
//! server's INFO), never assumed. A batch request can page its answers the
//! same way.

use bytes::Bytes;
use serde::{de::DeserializeOwned, Serialize};
use std::time::Duration;
use vpcroute_protocol::page::{
    PageReply, PagedRequest, KEY_SEPARATOR, MAX_PAGE_ITEMS, MAX_TOKEN_BYTES,
};
use vpcroute_protocol::{ErrorBody, ErrorCode};

use crate::request::{encode_reply, request, RequestError};

/// Room kept for what follows the items: the envelope's closing, `next`
/// (a position of up to three 255-character names) and other trailer.
const TRAILER_BYTES: usize = 1024;

/// How much one page may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageBudget {
    /// The whole encoded reply stays at or under this.
    pub max_bytes: usize,
    pub max_items: usize,
}

impl PageBudget {
    /// The budget of a reply to `request` on a connection whose server
    /// allows `max_payload` bytes; refuses a limit or a token no page
    /// could have given.
    pub fn of(request: &impl PagedRequest, max_payload: usize) -> Result<PageBudget, ErrorBody> {
        let bad = |m: String| Err(ErrorBody::new(ErrorCode::InvalidRequest, m));
        if let Some(after) = request.after() {
            check_token(after).map_err(|m| ErrorBody::new(ErrorCode::InvalidRequest, m))?;
        }
        let max_items = match request.limit() {
            None => MAX_PAGE_ITEMS,
            Some(n) if (1..=MAX_PAGE_ITEMS).contains(&n) => n,
            Some(n) => return bad(format!("limit {n} must be 1-{MAX_PAGE_ITEMS}")),
        };
        Ok(PageBudget {
            max_bytes: max_payload,
            max_items: max_items as usize,
        })
    }
}

/// A token is what a page's `next` can be: the position of an item, one
/// to three names (`vpc/tier/vm`, `router`, ...) by the names' own rule.
fn check_token(token: &str) -> Result<(), String> {
    let parts: Vec<&str> = token.split(KEY_SEPARATOR).collect();
    let bad = || {
        format!(
            "bad page token {:?}: give back a page's `next`",
            vpcroute_protocol::error::clip(token, 64)
        )
    };
    if token.len() > MAX_TOKEN_BYTES || parts.len() > 3 {
        return Err(bad());
    }
    for part in parts {
        vpcroute_protocol::names::check_name("page token", part).map_err(|_| bad())?;
    }
    Ok(())
}

/// Writes one page reply, `{"ok":{<header fields>,"<key>":[items],
/// "next":"..."}}`, item by item within a [`PageBudget`].
pub struct PageWriter {
    buf: Vec<u8>,
    budget: PageBudget,
    items: usize,
    /// The encoding of the item that did not fit, kept to be measured in
    /// the error if it is the first.
    refused: Option<usize>,
}

impl PageWriter {
    /// A page whose reply object holds `header`'s fields (an object; its
    /// own `key`, if any, is left out) before the items under `key`.
    pub fn new<H: Serialize>(budget: PageBudget, header: Option<&H>, key: &str) -> PageWriter {
        let mut buf = b"{\"ok\":{".to_vec();
        if let Some(h) = header {
            let mut fields = match serde_json::to_value(h).expect("headers serialise") {
                serde_json::Value::Object(m) => m,
                _ => panic!("a page header is an object"),
            };
            fields.remove(key);
            for (k, v) in fields {
                serde_json::to_writer(&mut buf, &k).expect("json");
                buf.push(b':');
                serde_json::to_writer(&mut buf, &v).expect("json");
                buf.push(b',');
            }
        }
        serde_json::to_writer(&mut buf, key).expect("json");
        buf.extend_from_slice(b":[");
        PageWriter {
            buf,
            budget,
            items: 0,
            refused: None,
        }
    }

    /// Adds `item` if it fits (count and bytes); false leaves the page as
    /// it was.
    pub fn push<T: Serialize>(&mut self, item: &T) -> bool {
        if self.items >= self.budget.max_items {
            return false;
        }
        let mark = self.buf.len();
        if self.items > 0 {
            self.buf.push(b',');
        }
        serde_json::to_writer(&mut self.buf, item).expect("page items serialise");
        if self.buf.len() + TRAILER_BYTES > self.budget.max_bytes {
            self.refused = Some(self.buf.len() - mark);
            self.buf.truncate(mark);
            return false;
        }
        self.items += 1;
        true
    }

    pub fn len(&self) -> usize {
        self.items
    }

    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// The reply: the items, then `next` if given.
    pub fn finish(mut self, next: Option<&str>) -> Bytes {
        self.buf.push(b']');
        if let Some(next) = next {
            self.buf.extend_from_slice(b",\"next\":");
            serde_json::to_writer(&mut self.buf, next).expect("json");
        }
        self.buf.extend_from_slice(b"}}");
        self.buf.into()
    }

    /// The error for an item (at `position`) that fits in no page at all,
    /// once `push` has refused it into an empty page.
    pub fn too_large(&self, position: &str) -> ErrorBody {
        ErrorBody::new(
            ErrorCode::ReplyTooLarge,
            format!(
                "item {position} alone is {} bytes, over the server's max_payload of {}",
                self.refused.unwrap_or(0),
                self.budget.max_bytes
            ),
        )
    }
}

/// One page of `items` (in key order, starting after the request's
/// token): as many as fit, and `next` (the position of the last one sent)
/// unless none is left. An item too large for any page is refused as
/// `reply_too_large` naming it, rather than skipped or sent oversize.
pub fn page_reply<T: Serialize, H: Serialize>(
    budget: PageBudget,
    header: Option<&H>,
    key: &str,
    items: impl IntoIterator<Item = T>,
    position: impl Fn(&T) -> String,
) -> Bytes {
    let mut page = PageWriter::new(budget, header, key);
    let mut last: Option<T> = None;
    for item in items {
        if !page.push(&item) {
            if page.is_empty() {
                return encode_reply::<()>(&Err(page.too_large(&position(&item))));
            }
            let next = last.as_ref().map(&position);
            return page.finish(next.as_deref());
        }
        last = Some(item);
    }
    page.finish(None)
}

/// Reads a paged query page by page: each [`Pager::next`] asks for the page
/// after the last one read, until a page comes without `next`.
pub struct Pager<'a, Req> {
    client: &'a async_nats::Client,
    subject: &'a str,
    request: Req,
    timeout: Duration,
    done: bool,
    /// Pages read so far.
    pub pages: usize,
}

impl<'a, Req: PagedRequest + Serialize> Pager<'a, Req> {
    /// Pages of `subject`, starting with `request` as given.
    pub fn new(
        client: &'a async_nats::Client,
        subject: &'a str,
        request: Req,
        timeout: Duration,
    ) -> Self {
        Pager {
            client,
            subject,
            request,
            timeout,
            done: false,
            pages: 0,
        }
    }

    /// The next page, or `None` after the last.
    pub async fn next<R: DeserializeOwned + PageReply>(
        &mut self,
    ) -> Result<Option<R>, RequestError> {
        if self.done {
            return Ok(None);
        }
        let page: R = request(self.client, self.subject, &self.request, self.timeout).await?;
        self.pages += 1;
        match page.next_token() {
            Some(next) => self.request.set_after(Some(next.to_string())),
            None => self.done = true,
        }
        Ok(Some(page))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpcroute_protocol::{Page, PagedShow, Reply};

    fn budget(max_payload: usize, limit: Option<u32>) -> PageBudget {
        let q = PagedShow {
            limit,
            ..PagedShow::first("z")
        };
        PageBudget::of(&q, max_payload).unwrap()
    }

    fn items(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("item-{i:05}")).collect()
    }

    fn read(bytes: &Bytes) -> Page<String> {
        let r: Reply<Page<String>> = serde_json::from_slice(bytes).unwrap();
        r.into_result().unwrap()
    }

    #[test]
    fn pages_stay_under_the_byte_budget_and_chain_without_loss() {
        let all = items(5000);
        let budget = budget(4096, None);
        let (mut seen, mut after, mut pages) = (Vec::new(), None::<String>, 0);
        loop {
            let rest = all
                .iter()
                .filter(|i| after.as_ref().is_none_or(|a| *i > a))
                .cloned();
            let bytes = page_reply::<_, ()>(budget, None, "items", rest, |s| s.clone());
            assert!(bytes.len() <= 4096, "page of {} bytes", bytes.len());
            let page = read(&bytes);
            assert!(!page.items.is_empty());
            seen.extend(page.items);
            pages += 1;
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, all);
        assert!(pages > 10, "{pages} pages");
    }

    #[test]
    fn the_count_limit_cuts_pages_and_the_last_page_has_no_next() {
        let budget = budget(1 << 20, Some(3));
        let page = read(&page_reply::<_, ()>(budget, None, "items", items(7), |s| {
            s.clone()
        }));
        assert_eq!(page.items.len(), 3);
        assert_eq!(page.next.as_deref(), Some("item-00002"));
        let page = read(&page_reply::<_, ()>(budget, None, "items", items(3), |s| {
            s.clone()
        }));
        assert_eq!((page.items.len(), page.next), (3, None));
        let zero = PagedShow {
            limit: Some(0),
            ..PagedShow::first("z")
        };
        assert!(PageBudget::of(&zero, 1 << 20).is_err());
        let empty = PagedShow {
            after: Some(String::new()),
            ..PagedShow::first("z")
        };
        assert!(PageBudget::of(&empty, 1 << 20).is_err());
        for bad in ["a b", "a//b", "a/b/c/d", "/a", "zöne"] {
            let q = PagedShow {
                after: Some(bad.into()),
                ..PagedShow::first("z")
            };
            assert!(PageBudget::of(&q, 1 << 20).is_err(), "{bad}");
        }
        let q = PagedShow {
            after: Some("vpc-1/tier-1/vm-1".into()),
            ..PagedShow::first("z")
        };
        assert!(PageBudget::of(&q, 1 << 20).is_ok());
    }

    #[test]
    fn an_item_too_large_for_any_page_is_a_structured_error() {
        let budget = budget(2048, None);
        let huge = vec!["x".repeat(5000)];
        let bytes = page_reply::<_, ()>(budget, None, "items", huge, |_| "the-one".into());
        let r: Reply<Page<String>> = serde_json::from_slice(&bytes).unwrap();
        let e = r.into_result().unwrap_err();
        assert_eq!(e.code, ErrorCode::ReplyTooLarge);
        assert!(
            e.message.contains("the-one") && e.message.contains("2048"),
            "{e}"
        );
    }

    #[test]
    fn a_header_goes_before_the_items() {
        #[derive(Serialize)]
        struct H {
            head: u64,
            items: Vec<u8>,
        }
        let budget = budget(1 << 20, None);
        let h = H {
            head: 9,
            items: vec![1],
        };
        let bytes = page_reply(budget, Some(&h), "items", items(2), |s| s.clone());
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"ok": {"head": 9, "items": ["item-00000", "item-00001"]}})
        );
    }
}
