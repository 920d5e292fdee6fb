//! Paged replies: every query whose answer grows with a zone answers one
//! page at a time (see `vpcroute_bus::page` for why a continuation token).
//!
//! A paged request carries `after` (the token of the previous page, absent
//! for the first) and `limit` (at most that many items; the service also
//! stops before the page would exceed the NATS server's `max_payload`). A
//! page carries its items in key order and `next`, the token to ask for the
//! page after it; a page without `next` is the last. The token is the key
//! of the last item sent, so it holds no state in the service: an item that
//! exists through the whole read is returned exactly once, whatever is
//! created or removed meanwhile.

use serde::{Deserialize, Serialize};

/// One page of `T`s (`{"items": [...], "next": "..."}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Most items a client may ask for in one page (the byte bound usually
/// comes first).
pub const MAX_PAGE_ITEMS: u32 = 100_000;

/// Longest page token accepted (a position of three names is at most 767).
pub const MAX_TOKEN_BYTES: usize = 1024;

/// A paged request about one named object (a zone's export, a VPC's, a
/// zone's ACL lists, a zone's areas).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagedShow {
    pub name: String,
    /// The `next` of the previous page; absent for the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// At most this many items (1-100000); the page is also cut to fit the
    /// server's `max_payload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl PagedShow {
    pub fn first(name: impl Into<String>) -> PagedShow {
        PagedShow {
            name: name.into(),
            after: None,
            limit: None,
        }
    }
}

/// The separator of the names in a tree position (`vpc/tier/vm`): no name
/// may hold it (`names::check_name`).
pub const KEY_SEPARATOR: char = '/';

/// A paged request: where its page starts and how many items it wants.
pub trait PagedRequest {
    fn after(&self) -> Option<&str>;
    fn limit(&self) -> Option<u32>;
    fn set_after(&mut self, after: Option<String>);
}

/// A page as its reader sees it: where the next one starts.
pub trait PageReply {
    fn next_token(&self) -> Option<&str>;
}

impl PagedRequest for PagedShow {
    fn after(&self) -> Option<&str> {
        self.after.as_deref()
    }
    fn limit(&self) -> Option<u32> {
        self.limit
    }
    fn set_after(&mut self, after: Option<String>) {
        self.after = after;
    }
}

impl<T> PageReply for Page<T> {
    fn next_token(&self) -> Option<&str> {
        self.next.as_deref()
    }
}
