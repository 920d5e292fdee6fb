//! `vpcctl log`: event log maintenance. Reads files; needs no bus.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use vpcroute_protocol::{ErrorBody, ErrorCode};

use crate::output::Output;

#[derive(Debug, Subcommand)]
pub enum LogCmd {
    /// Check the hash chain of every event log in a data directory.
    Verify {
        #[arg(long)]
        data_dir: PathBuf,
    },
}

impl LogCmd {
    pub fn run(self) -> Result<Output, ErrorBody> {
        match self {
            LogCmd::Verify { data_dir } => verify_logs(&data_dir),
        }
    }
}

/// `vpcctl log verify`: every `*.sqlite` log in the directory.
fn verify_logs(dir: &Path) -> Result<Output, ErrorBody> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| {
            ErrorBody::new(
                ErrorCode::InvalidRequest,
                format!("cannot read {}: {e}", dir.display()),
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sqlite"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(ErrorBody::new(
            ErrorCode::InvalidRequest,
            format!("no event log (*.sqlite) in {}", dir.display()),
        ));
    }
    let mut report = Vec::new();
    let mut human = String::new();
    for f in files {
        match vpcroute_eventlog::verify_file(&f) {
            Ok(r) => {
                let _ = writeln!(
                    human,
                    "{}: ok, {} events, head {}",
                    f.display(),
                    r.events_checked,
                    r.head
                );
                report.push(serde_json::json!({
                    "file": f.display().to_string(), "ok": true,
                    "events": r.events_checked, "head": r.head,
                }));
            }
            Err(vpcroute_eventlog::Error::Corrupt { seq, reason }) => {
                return Err(ErrorBody::new(
                    ErrorCode::CorruptLog,
                    format!("{}: event {seq} {reason}", f.display()),
                ))
            }
            Err(e) => {
                return Err(ErrorBody::new(
                    ErrorCode::CorruptLog,
                    format!("{}: {e}", f.display()),
                ))
            }
        }
    }
    Ok(Output {
        json: serde_json::json!({ "logs": report }),
        human,
        printed: false,
        failed: false,
    })
}
