//! Request signing exactly as CloudStack's `ApiServer.verifyRequest`
//! (server/src/main/java/com/cloud/api/ApiServer.java) checks it:
//!
//! 1. every request parameter except `signature`, in the order of
//!    `Collections.sort(parameterNames)`: Java's `String.compareTo`, which is
//!    case-SENSITIVE (`"Zone" < "apiKey"`), not the case-insensitive order some
//!    client docs describe;
//! 2. each as `name + "=" + URLEncoder.encode(value, UTF-8).replaceAll("\\+", "%20")`
//!    (the name itself is not encoded), joined with `&`;
//! 3. the whole string `toLowerCase()`d;
//! 4. `Mac.getInstance("HmacSHA1")` keyed with `secretKey.getBytes()`,
//!    `Base64.encodeBase64String` (standard alphabet, padded);
//! 5. compared with the `signature` parameter after the servlet URL-decoded it
//!    (`ApiServlet.utf8Fixup`), so the signature is sent URL-encoded.
//!
//! `signatureVersion=3` with `expires` (`yyyy-MM-dd'T'HH:mm:ssZ`, one of
//! `DateUtil.parseTZDateString`'s formats) are ordinary signed parameters; the
//! server refuses an `expires` in the past, and, when
//! `enforce.post.requests.and.timestamps` is set, one more than 15 minutes
//! ahead or a request without them.

use std::collections::BTreeMap;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::keys::SecretKey;

/// `java.net.URLEncoder.encode(value, "UTF-8").replaceAll("\\+", "%20")`.
///
/// URLEncoder keeps `a-zA-Z0-9 . - * _`, turns a space into `+` and every
/// other UTF-8 byte into `%XX` (upper-case hex); CloudStack then turns each
/// `+` (only spaces; a literal `+` is already `%2B`) into `%20`. Note `~` is
/// encoded (`%7E`), unlike RFC 3986 encoders.
pub fn java_url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(byte as char)
            }
            b' ' => out.push_str("%20"),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// The parameters of one request, unique by name, in the order CloudStack
/// sorts them. A `BTreeMap<String, _>` orders by bytes, which for the ASCII
/// names of CloudStack's API is the order of Java's `String.compareTo`
/// (UTF-16 code units); a non-ASCII name is refused by [`check_name`].
pub type Params = BTreeMap<String, String>;

/// CloudStack parameter names are ASCII identifiers (`apiKey`, `zoneid`,
/// `details[0].key`); anything else would sort and lower-case differently
/// here and in Java, so it is refused rather than signed wrongly.
pub fn check_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"[]._-".contains(&b))
}

/// Step 1–3: the lower-cased string that is signed.
pub fn string_to_sign(params: &Params) -> String {
    let joined: Vec<String> = params
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("signature"))
        .map(|(name, value)| format!("{name}={}", java_url_encode(value)))
        .collect();
    // All non-ASCII was percent-encoded above and names are ASCII, so ASCII
    // lower-casing is what Java's toLowerCase() does to this string.
    joined.join("&").to_ascii_lowercase()
}

/// Step 4: base64(HMAC-SHA1(secret, string_to_sign)).
pub fn signature(secret: &SecretKey, params: &Params) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(string_to_sign(params).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The query string sent: the same encoding as signed (not lower-cased) and
/// the URL-encoded signature last.
pub fn signed_query(secret: &SecretKey, params: &Params) -> String {
    let sig = signature(secret, params);
    let mut query: Vec<String> = params
        .iter()
        .map(|(name, value)| format!("{name}={}", java_url_encode(value)))
        .collect();
    query.push(format!("signature={}", java_url_encode(&sig)));
    query.join("&")
}

/// `expires` in `yyyy-MM-dd'T'HH:mm:ssZ` (`2026-12-04T22:40:00+0000`), the
/// format of `DateUtil.ZONED_DATETIME_FORMAT` that the server parses.
pub fn expires_value(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory][offset_minute]"
    );
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .expect("a UTC date formats")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The worked example of CloudStack's developer guide ("Signing API
    /// Requests"): these keys and parameters sign to this value.
    #[test]
    fn developer_guide_example() {
        let secret = SecretKey::new(
            "VDaACYb0LV9eNjTetIOElcVQkvJck_J_QljX_FcHRj87ZKiy0z0ty0ZsYBkoXkY9b7eq1EhwJaw7FF3akA3KBQ"
                .into(),
        );
        let p = params(&[
            ("command", "listUsers"),
            ("response", "json"),
            (
                "apiKey",
                "plgWJfZK4gyS3mOMTVmjUVg-X-jlWlnfaUJ9GAbBbf9EdM-kAYMmAiLqzzq1ElZLYq_u38zCm0bewzGUdP66mg",
            ),
        ]);
        assert!(string_to_sign(&p).starts_with("apikey=plgwjfzk4gys3momtvmjuvg-x-jlwl"));
        assert!(string_to_sign(&p).ends_with("&command=listusers&response=json"));
        assert_eq!(signature(&secret, &p), "TTpdDq/7j/J58XCRHomKoQXEQds=");
        assert!(
            signed_query(&secret, &p).ends_with("&signature=TTpdDq%2F7j%2FJ58XCRHomKoQXEQds%3D")
        );
    }

    #[test]
    fn values_are_encoded_as_java_url_encoder_then_plus_to_percent20() {
        assert_eq!(java_url_encode("a b+c/é~*._-"), "a%20b%2Bc%2F%C3%A9%7E*._-");
    }

    /// Java's Collections.sort is case-sensitive: upper case sorts first, and
    /// the order is kept when the string is lower-cased afterwards.
    #[test]
    fn names_sort_case_sensitively_before_lower_casing() {
        let p = params(&[("a", "1"), ("B", "2")]);
        assert_eq!(string_to_sign(&p), "b=2&a=1");
    }

    #[test]
    fn non_ascii_or_empty_names_are_refused() {
        assert!(check_name("details[0].key"));
        assert!(!check_name("zöne"));
        assert!(!check_name(""));
        assert!(!check_name("a=b"));
    }

    #[test]
    fn expires_has_the_servers_format() {
        let at = time::macros::datetime!(2026-12-04 22:40:05 UTC);
        assert_eq!(expires_value(at), "2026-12-04T22:40:05+0000");
    }
}
