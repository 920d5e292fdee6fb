//! A CloudStack API simulator: `GET /client/api` on a free loopback port,
//! verifying every request's signature as CloudStack's ApiServer does
//! ([`verify`], written from the Java source and sharing no code with
//! `vpcroute-cloudstack-api`'s signing, so the two check each other), and
//! serving the list calls vpcroute needs from an in-memory [`Model`] the
//! test changes at will ([`model`], [`serve`]).
//!
//! What it keeps from CloudStack (server/src/main/java/com/cloud/api/):
//! - a refused signature, an unknown api key or an unknown command is HTTP
//!   401 with `{"<command>response": {"uuidList": [], "errorcode": 401,
//!   "errortext": "unable to verify user credentials and/or request
//!   signature"}}` (ApiServlet; `errorresponse` for an unknown command);
//! - list answers are `{"<command>response": {"count": N, "<item>": [...]}}`,
//!   with `{}` for an empty list and `{"count": N}` for a page past the end
//!   (ApiResponseSerializer.toJSONSerializedString); `page`/`pagesize`,
//!   `pagesize` above 500 refused with 431 (BaseListCmd);
//! - null fields are left out (Gson); ACL item ports are strings.
//!
//! It records every request ([`Recorded`]) so tests can see the pages asked.

pub mod model;
mod serve;
pub mod verify;

pub use model::*;
pub use serve::CloudStackSim;
