//! `ApiServer.verifyRequest`, re-implemented from its source for the
//! simulator (independently of the client crate's signing).
//!
//! The servlet first decodes the query with `URLDecoder.decode(_, "UTF-8")`
//! per `name=value` token, a later token replacing an earlier one of the
//! same name (`ApiServlet.utf8Fixup`). verifyRequest then:
//! - `Collections.sort(parameterNames)`: `String.compareTo`, UTF-16 code
//!   units, case-sensitive;
//! - skips `signature` (`equalsIgnoreCase`), notes `apiKey`,
//!   `signatureVersion`, `expires` (also `equalsIgnoreCase`);
//! - appends `name=URLEncoder.encode(value, UTF-8).replaceAll("\\+", "%20")`
//!   joined by `&`;
//! - refuses a request without `signature` or `apiKey`;
//! - with `signatureVersion` exactly `"3"`: refuses a missing, unparsable
//!   (`DateUtil.parseTZDateString`) or past `expires`;
//! - looks the secret key up by api key;
//! - `unsignedRequest.toLowerCase()`, HmacSHA1 keyed by
//!   `secretKey.getBytes()`, `Base64.encodeBase64String`, compared with the
//!   decoded `signature` parameter.

use std::collections::BTreeMap;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// `java.net.URLDecoder.decode(s, "UTF-8")`: `+` is a space, `%XX` a byte;
/// a malformed escape is an IllegalArgumentException (None here).
pub fn url_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    // URLDecoder replaces malformed UTF-8 rather than failing.
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// `java.net.URLEncoder.encode(s, "UTF-8")`: unreserved are `a-zA-Z0-9`
/// and `.-*_`, a space becomes `+`, every other byte `%XX` upper-case.
pub fn java_url_encoder(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || ".-*_".contains(c) {
            out.push(c);
        } else if c == ' ' {
            out.push('+');
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// The parameters as the servlet hands them to verifyRequest.
pub fn servlet_params(query: &str) -> Result<BTreeMap<String, String>, String> {
    let mut params = BTreeMap::new();
    for token in query.split('&') {
        // `param.split("=", 2)` with length 2 only; others are skipped.
        let Some((name, value)) = token.split_once('=') else {
            continue;
        };
        let name = url_decode(name).ok_or_else(|| format!("bad escape in {name:?}"))?;
        let value = url_decode(value).ok_or_else(|| format!("bad escape in value of {name:?}"))?;
        params.insert(name, value);
    }
    Ok(params)
}

/// Why a request was refused (all are HTTP 401 to the client, as in
/// CloudStack; the reason is for the test's eyes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    MissingSignatureOrApiKey,
    MissingExpires,
    BadExpires(String),
    Expired,
    UnknownApiKey,
    SignatureMismatch,
}

/// The string ApiServer signs, before `toLowerCase()`.
pub fn unsigned_request(params: &BTreeMap<String, String>) -> String {
    let mut names: Vec<&String> = params.keys().collect();
    names.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
    let mut unsigned = String::new();
    for name in names {
        if name.eq_ignore_ascii_case("signature") {
            continue;
        }
        if !unsigned.is_empty() {
            unsigned.push('&');
        }
        unsigned.push_str(name);
        unsigned.push('=');
        unsigned.push_str(&java_url_encoder(&params[name]).replace('+', "%20"));
    }
    unsigned
}

/// `DateUtil.parseTZDateString`: ISO_OFFSET_DATE_TIME / ISO_INSTANT
/// (RFC 3339 here) or `yyyy-MM-dd'T'HH:mm:ssZ` (`+0000`).
fn parse_expires(s: &str) -> Option<time::OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    let zoned = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory][offset_minute]"
    );
    time::OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(s, &zoned))
        .ok()
}

/// verifyRequest for a request without a session: Ok(api key) or why not.
/// `secret_of` maps an api key to its secret key.
pub fn verify_request(
    params: &BTreeMap<String, String>,
    secret_of: impl Fn(&str) -> Option<String>,
) -> Result<String, Refused> {
    let find = |wanted: &str| {
        params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(wanted))
            .map(|(_, v)| v.clone())
    };
    let (Some(signature), Some(api_key)) = (find("signature"), find("apiKey")) else {
        return Err(Refused::MissingSignatureOrApiKey);
    };
    if find("signatureVersion").as_deref() == Some("3") {
        let expires = find("expires").ok_or(Refused::MissingExpires)?;
        let at = parse_expires(&expires).ok_or_else(|| Refused::BadExpires(expires.clone()))?;
        if at < time::OffsetDateTime::now_utc() {
            return Err(Refused::Expired);
        }
    }
    let secret = secret_of(&api_key).ok_or(Refused::UnknownApiKey)?;
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(unsigned_request(params).to_lowercase().as_bytes());
    let computed = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    if computed != signature {
        return Err(Refused::SignatureMismatch);
    }
    Ok(api_key)
}
