//! CloudStack API client for vpcroute's CloudStack adapter: requests signed
//! as CloudStack's ApiServer verifies them ([`sign`]), typed list calls with
//! CloudStack's response shapes and paging ([`Client`]), and key files held
//! to the 0600 rule ([`keys`]). It only reads: every call is a `list*`.

mod client;
mod error;
pub mod keys;
pub mod sign;
pub mod types;

pub use client::{Client, Filter, MAX_PAGE_SIZE};
pub use error::ApiError;
pub use keys::{read_key_file, Credentials, KeyFileError, SecretKey};
pub use types::*;
