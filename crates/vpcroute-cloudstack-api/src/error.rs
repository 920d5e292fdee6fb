use crate::keys::KeyFileError;

/// What an API call can end in. No variant holds the secret key, the
/// signature or the request URL (reqwest's errors are stripped of it), so
/// any of them can be logged.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("CloudStack API URL {url:?} is not usable: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("parameter name {name:?} of {command} is not a CloudStack parameter name")]
    BadParameter { command: String, name: String },
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// HTTP 401 (CloudStack's "unable to verify user credentials and/or
    /// request signature"): wrong key pair, disabled user, expired request.
    #[error("CloudStack refused the credentials for {command} (HTTP {http_status}): {errortext}")]
    Unauthorized {
        command: String,
        http_status: u16,
        errortext: String,
    },
    /// CloudStack's error object: `{"<command>response": {"errorcode": 431,
    /// "cserrorcode": 9999, "errortext": "..."}}`.
    #[error("CloudStack {command} failed: error {errorcode} (cs {cserrorcode:?}): {errortext}")]
    Api {
        command: String,
        http_status: u16,
        errorcode: u16,
        cserrorcode: Option<u32>,
        errortext: String,
    },
    #[error("CloudStack {command} could not be reached: {source}")]
    Transport {
        command: String,
        source: reqwest::Error,
    },
    #[error("CloudStack {command} answered HTTP {http_status} with a body that is not its JSON: {detail}")]
    Decode {
        command: String,
        http_status: u16,
        detail: String,
    },
}
