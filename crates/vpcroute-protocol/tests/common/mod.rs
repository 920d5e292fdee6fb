//! A small loader for the JSON Schemas in `schemas/` (see its README).
//!
//! Self-contained (only `jsonschema` 0.30 and `serde_json`) so that other
//! test crates can include it with
//! `#[path = "../crates/vpcroute-protocol/tests/common/mod.rs"] mod schemas;`.
//!
//! Every schema file is registered with the validator under its `$id`, so
//! the relative `$ref`s between files resolve without any network access.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use jsonschema::{Draft, Resource, ValidationOptions, Validator};
use serde_json::Value;
use vpcroute_bus::subjects::subject_matches;

/// The `$id` prefix every schema lives under; a file's `$id` is this plus
/// its path relative to `schemas/`.
pub const BASE_URI: &str = "https://vpcroute.dev/schemas/";

/// Every schema of `schemas/`, with `index.json`.
pub struct Schemas {
    /// The `schemas/` folder.
    pub dir: PathBuf,
    /// Each schema document by its path relative to `dir` (`/`-separated),
    /// `index.json` excepted.
    pub docs: BTreeMap<String, Value>,
    /// The parsed `index.json`.
    pub index: Value,
    cache: Mutex<HashMap<String, Arc<Validator>>>,
}

/// Finds `schemas/` by walking up from `start` to the first folder that
/// holds `schemas/index.json`.
pub fn find_schemas_dir(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|d| d.join("schemas"))
        .find(|d| d.join("index.json").is_file())
}

impl Schemas {
    /// Loads the `schemas/` folder above the crate being compiled (or the
    /// one named by `VPCROUTE_SCHEMAS_DIR`).
    pub fn load() -> Self {
        let dir = match std::env::var_os("VPCROUTE_SCHEMAS_DIR") {
            Some(d) => PathBuf::from(d),
            None => find_schemas_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
                .expect("no schemas/index.json above CARGO_MANIFEST_DIR"),
        };
        Self::load_from(&dir)
    }

    pub fn load_from(dir: &Path) -> Self {
        let mut docs = BTreeMap::new();
        let mut index = None;
        for path in json_files(dir) {
            let rel = path
                .strip_prefix(dir)
                .unwrap()
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let value: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            if rel == "index.json" {
                index = Some(value);
            } else {
                docs.insert(rel, value);
            }
        }
        Schemas {
            dir: dir.to_path_buf(),
            docs,
            index: index.expect("schemas/index.json is missing"),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The `$id` a schema file must have.
    pub fn id_of(rel: &str) -> String {
        format!("{BASE_URI}{rel}")
    }

    /// Validation options with every schema registered under its `$id`.
    pub fn options(&self) -> ValidationOptions {
        let mut opts = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true);
        for (rel, doc) in &self.docs {
            let id = doc
                .get("$id")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| Self::id_of(rel));
            let resource = Resource::from_contents(doc.clone())
                .unwrap_or_else(|e| panic!("{rel}: not a schema resource: {e}"));
            opts = opts.with_resource(id, resource);
        }
        opts
    }

    /// Compiles a schema given as a URI (`ipam/vpc.allocate.request.json`,
    /// relative to [`BASE_URI`], or absolute, possibly with a `#fragment`).
    pub fn try_validator(&self, uri: &str) -> Result<Arc<Validator>, String> {
        let uri = if uri.starts_with("https://") {
            uri.to_string()
        } else {
            format!("{BASE_URI}{uri}")
        };
        if let Some(v) = self.cache.lock().unwrap().get(&uri) {
            return Ok(v.clone());
        }
        let v = Arc::new(
            self.options()
                .build(&serde_json::json!({ "$ref": uri }))
                .map_err(|e| format!("{uri}: {e}"))?,
        );
        self.cache.lock().unwrap().insert(uri, v.clone());
        Ok(v)
    }

    pub fn validator(&self, uri: &str) -> Arc<Validator> {
        self.try_validator(uri).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Validates `instance` against the schema at `uri`; the error lists
    /// every violation as `<instance path>: <message>`.
    pub fn check(&self, uri: &str, instance: &Value) -> Result<(), Vec<String>> {
        let v = self.validator(uri);
        let errors: Vec<String> = v
            .iter_errors(instance)
            .map(|e| format!("{uri} at '{}': {e}", e.instance_path))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn subject_entry(&self, subject: &str) -> Option<&Value> {
        self.index["subjects"].as_array()?.iter().find(|e| {
            e["subject"]
                .as_str()
                .is_some_and(|p| subject_matches(p, subject))
        })
    }

    /// The request schema (path relative to `schemas/`) of a subject.
    pub fn request_schema(&self, subject: &str) -> Option<&str> {
        self.subject_entry(subject)?["request"].as_str()
    }

    /// The reply schema of a request subject.
    pub fn reply_schema(&self, subject: &str) -> Option<&str> {
        self.subject_entry(subject)?["reply"].as_str()
    }

    /// The schema of an event published on `subject`.
    pub fn event_schema(&self, subject: &str) -> Option<&str> {
        self.index["events"].as_array()?.iter().find(|e| {
            e["subject"]
                .as_str()
                .is_some_and(|p| subject_matches(p, subject))
        })?["schema"]
            .as_str()
    }

    pub fn check_request(&self, subject: &str, msg: &Value) -> Result<(), Vec<String>> {
        let s = self
            .request_schema(subject)
            .ok_or_else(|| vec![format!("no request schema for {subject}")])?;
        self.check(s, msg)
    }

    pub fn check_reply(&self, subject: &str, msg: &Value) -> Result<(), Vec<String>> {
        let s = self
            .reply_schema(subject)
            .ok_or_else(|| vec![format!("no reply schema for {subject}")])?;
        self.check(s, msg)
    }

    pub fn check_event(&self, subject: &str, msg: &Value) -> Result<(), Vec<String>> {
        let s = self
            .event_schema(subject)
            .ok_or_else(|| vec![format!("no event schema for {subject}")])?;
        self.check(s, msg)
    }
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot list {}: {e}", d.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
