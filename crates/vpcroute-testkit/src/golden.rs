//! Golden files: one rule for every replay suite on when they may be
//! rewritten, and one comparison that prints a diff.
//!
//! `UPDATE_GOLDEN=1` (or `true`) rewrites golden files from what the code
//! does now, for a person to review the diff before committing it. Under
//! `CI=true` it is refused: a golden file written by the code it checks
//! would make every comparison pass, so CI only ever compares.

use std::path::Path;

use crate::line_diff;

/// Whether golden files are to be rewritten. Panics when asked to under
/// `CI=true`.
pub fn update_golden() -> bool {
    let asked =
        std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    if asked && crate::in_ci() {
        panic!("UPDATE_GOLDEN is refused under CI=true: CI compares golden files, it never writes them");
    }
    asked
}

/// Compares `actual` with the golden file at `path` using `same`, or
/// rewrites the file when [`update_golden`]. The error carries a line diff
/// and says how to accept the change.
pub fn check_golden(
    path: &Path,
    actual: &str,
    same: impl Fn(&str, &str) -> bool,
) -> Result<(), String> {
    if update_golden() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create the golden file's directory");
        }
        std::fs::write(path, actual).expect("write golden file");
        return Ok(());
    }
    match std::fs::read_to_string(path) {
        Ok(expected) if same(&expected, actual) => Ok(()),
        Ok(expected) => Err(format!(
            "{} differs (UPDATE_GOLDEN=1 to accept):\n{}",
            path.display(),
            line_diff(&expected, actual)
        )),
        Err(e) => Err(format!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )),
    }
}

/// The non-empty lines of a JSONL file, each parsed as a `T`, with their
/// 1-based line numbers. Panics naming the file and line of a bad one.
pub fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<(usize, T)> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let v = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{} line {}: {e}", path.display(), i + 1));
            (i + 1, v)
        })
        .collect()
}
