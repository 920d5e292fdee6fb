//! How vpcctl prints: JSON for programs (`--json`), aligned text for
//! people. Each command renders its own output (in its module under
//! `cmd/`); this is what they share.

use serde::Serialize;
use vpcroute_protocol::ErrorBody;

/// What a command produced, kept as JSON plus a human rendering.
pub struct Output {
    pub json: serde_json::Value,
    pub human: String,
    /// Printed already, as it was read (`show zone`).
    pub printed: bool,
    /// Printed as a result, but some of the work failed (an import with
    /// refused items): vpcctl exits non-zero.
    pub failed: bool,
}

impl Output {
    /// A command that printed its output itself.
    pub fn printed() -> Output {
        Output {
            json: serde_json::Value::Null,
            human: String::new(),
            printed: true,
            failed: false,
        }
    }
}

pub fn print_ok(out: &Output, json: bool) {
    if out.printed {
        return;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&out.json).expect("json"));
    } else {
        println!("{}", out.human.trim_end());
    }
}

/// Failures go to stdout as JSON with `--json` (so a caller parses one
/// stream), to stderr as text otherwise.
pub fn print_err(e: &ErrorBody, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "error": e })).expect("json")
        );
    } else {
        eprintln!("vpcctl: error: {} ({})", e.message, e.code);
    }
}

/// A reply as it came (JSON) with its one-line human rendering.
pub fn record<T: Serialize>(r: &T, human: String) -> Output {
    Output {
        json: serde_json::to_value(r).expect("json"),
        human,
        printed: false,
        failed: false,
    }
}
