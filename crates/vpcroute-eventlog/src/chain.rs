//! The SHA-256 hash chain that makes tampering with the file detectable.
//!
//! ```text
//! hash(n) = SHA-256( hash(n-1)            32 raw bytes; hash(0) = 32 zero bytes
//!                  || u64be(seq)
//!                  || str(stream)
//!                  || u64be(stream_version)
//!                  || str(event_type)
//!                  || u32be(schema_version)
//!                  || str(payload)          the exact JSON text stored
//!                  || 0x00                  when request_id is NULL, or
//!                     0x01 || str(request_id)
//!                  || i64be(recorded_at_ms) )
//! str(s) = u64be(byte length of s) || UTF-8 bytes of s
//! ```
//!
//! Length prefixes make the encoding unambiguous (no two different rows hash
//! the same byte string), and hashing the stored payload *text* rather than a
//! re-serialisation means verification never depends on a JSON library's
//! formatting. This layout is part of the on-disk format: changing it means a
//! new schema version.
//!
//! Each idempotency record (a `requests` row) carries its own hash, bound to
//! the event chain at the record's `last_seq`, so editing a recorded reply
//! (or any other column of the record) is detected too:
//!
//! ```text
//! request_hash = SHA-256( "vpcroute-eventlog/request/v1\0"
//!                       || hash(last_seq)    32 raw bytes; zeros when last_seq = 0
//!                       || str(request_id)
//!                       || str(fingerprint)
//!                       || str(result)        the exact JSON text stored
//!                       || u64be(first_seq)
//!                       || u64be(last_seq)
//!                       || i64be(recorded_at_ms) )
//! ```

use sha2::{Digest, Sha256};

/// `hash(0)`: the chain's starting point, in hex.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A raw chain hash.
pub(crate) type Hash = [u8; 32];

/// The fields of one event that the chain covers (all of them but the hash),
/// borrowed from wherever the row currently lives (a request being appended,
/// or a row being verified).
pub(crate) type ChainInput<'a> = crate::types::EventRef<'a>;

fn put_str(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

/// `hash(n)` from `hash(n-1)` and row `n`. The bytes are laid out in one
/// buffer and hashed in one call: a dozen small `update`s cost about as
/// much as the hashing itself (verification links every event).
pub(crate) fn link(prev: &Hash, ev: &ChainInput<'_>) -> Hash {
    fn put(buf: &mut Vec<u8>, s: &str) {
        buf.extend_from_slice(&(s.len() as u64).to_be_bytes());
        buf.extend_from_slice(s.as_bytes());
    }
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        buf.extend_from_slice(prev);
        buf.extend_from_slice(&ev.seq.to_be_bytes());
        put(&mut buf, ev.stream);
        buf.extend_from_slice(&ev.stream_version.to_be_bytes());
        put(&mut buf, ev.event_type);
        buf.extend_from_slice(&ev.schema_version.to_be_bytes());
        put(&mut buf, ev.payload);
        match ev.request_id {
            None => buf.push(0),
            Some(id) => {
                buf.push(1);
                put(&mut buf, id);
            }
        }
        buf.extend_from_slice(&ev.recorded_at_ms.to_be_bytes());
        Sha256::digest(&buf[..]).into()
    })
}

/// Domain separation for [`request_link`]: a request hash can never equal an
/// event hash computed over the same bytes.
const REQUEST_DOMAIN: &[u8] = b"vpcroute-eventlog/request/v1\0";

/// The fields of one idempotency record that its hash covers.
pub(crate) struct RequestInput<'a> {
    pub request_id: &'a str,
    pub fingerprint: &'a str,
    pub result: &'a str,
    pub first_seq: u64,
    pub last_seq: u64,
    pub recorded_at_ms: i64,
}

/// The hash of an idempotency record. `event_hash` is the chain hash of
/// event `last_seq` (32 zero bytes when `last_seq` is 0).
pub(crate) fn request_link(event_hash: &Hash, r: &RequestInput<'_>) -> Hash {
    let mut h = Sha256::new();
    h.update(REQUEST_DOMAIN);
    h.update(event_hash);
    put_str(&mut h, r.request_id);
    put_str(&mut h, r.fingerprint);
    put_str(&mut h, r.result);
    h.update(r.first_seq.to_be_bytes());
    h.update(r.last_seq.to_be_bytes());
    h.update(r.recorded_at_ms.to_be_bytes());
    h.finalize().into()
}

/// Does the stored hex text `stored` spell `hash`? Compares against the
/// lowercase hex the log writes (a table lookup per byte, no parsing), and
/// only parses when that fails (an uppercase spelling, or a mismatch).
pub(crate) fn hex_matches(stored: &str, hash: &Hash) -> bool {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut lower = [0u8; 64];
    for (pair, byte) in lower.chunks_exact_mut(2).zip(hash) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
    stored.as_bytes() == lower || parse_hex(stored).as_ref() == Some(hash)
}

/// Parse a stored hex hash (either case); `None` if it is not 32 bytes of
/// hex. Hand-rolled: verification parses one per event, and this is several
/// times cheaper than the general-purpose decoder.
pub(crate) fn parse_hex(s: &str) -> Option<Hash> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let digits = s.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(stream: &'a str, payload: &'a str) -> ChainInput<'a> {
        ChainInput {
            seq: 1,
            stream,
            stream_version: 1,
            event_type: "T",
            schema_version: 1,
            payload,
            request_id: Some("r"),
            recorded_at_ms: 7,
        }
    }

    #[test]
    fn length_prefixes_keep_fields_apart() {
        // Moving a byte across a field boundary must change the hash.
        let a = link(&[0; 32], &input("ab", "c"));
        let b = link(&[0; 32], &input("a", "bc"));
        assert_ne!(a, b);
    }

    /// The layout in the module docs, fed field by field: `link` must hash
    /// exactly these bytes, or every existing log would stop verifying.
    fn link_field_by_field(prev: &Hash, ev: &ChainInput<'_>) -> Hash {
        let mut h = Sha256::new();
        h.update(prev);
        h.update(ev.seq.to_be_bytes());
        put_str(&mut h, ev.stream);
        h.update(ev.stream_version.to_be_bytes());
        put_str(&mut h, ev.event_type);
        h.update(ev.schema_version.to_be_bytes());
        put_str(&mut h, ev.payload);
        match ev.request_id {
            None => h.update([0u8]),
            Some(id) => {
                h.update([1u8]);
                put_str(&mut h, id);
            }
        }
        h.update(ev.recorded_at_ms.to_be_bytes());
        h.finalize().into()
    }

    #[test]
    fn link_hashes_the_documented_layout() {
        let long = "x".repeat(300);
        for ev in [
            input("s", "{}"),
            input("zone/z1", &long),
            ChainInput {
                request_id: None,
                ..input("", "")
            },
        ] {
            assert_eq!(link(&[7; 32], &ev), link_field_by_field(&[7; 32], &ev));
        }
    }

    #[test]
    fn chain_depends_on_previous_hash() {
        let a = link(&[0; 32], &input("s", "{}"));
        let b = link(&[1; 32], &input("s", "{}"));
        assert_ne!(a, b);
        assert_eq!(parse_hex(&hex::encode(a)), Some(a));
        assert_eq!(parse_hex(GENESIS_HASH), Some([0; 32]));
        assert_eq!(parse_hex("zz"), None);
        assert_eq!(parse_hex(&hex::encode_upper(a)), Some(a));
        assert!(hex_matches(&hex::encode(a), &a));
        assert!(hex_matches(&hex::encode_upper(a), &a));
        assert!(!hex_matches(&hex::encode(b), &a));
        assert!(!hex_matches("", &a));
        let mut bad = hex::encode(a);
        bad.replace_range(63.., "g");
        assert_eq!(parse_hex(&bad), None);
        assert_eq!(parse_hex(&hex::encode(a)[..62]), None);
    }

    #[test]
    fn request_hash_covers_every_field() {
        let base = RequestInput {
            request_id: "r",
            fingerprint: "fp",
            result: "{}",
            first_seq: 1,
            last_seq: 2,
            recorded_at_ms: 7,
        };
        let h = request_link(&[0; 32], &base);
        assert_ne!(h, request_link(&[1; 32], &base));
        let variants = [
            RequestInput {
                request_id: "s",
                ..base
            },
            RequestInput {
                fingerprint: "fq",
                ..base
            },
            RequestInput {
                result: "{ }",
                ..base
            },
            RequestInput {
                first_seq: 2,
                ..base
            },
            RequestInput {
                last_seq: 3,
                ..base
            },
            RequestInput {
                recorded_at_ms: 8,
                ..base
            },
            RequestInput {
                request_id: "rf",
                fingerprint: "p",
                ..base
            },
        ];
        for v in &variants {
            assert_ne!(h, request_link(&[0; 32], v));
        }
    }
}
