//! The one loader of the JSON Schemas in `schemas/` (see its README), for
//! the protocol crate's schema tests and the end-to-end tests' wiretap alike.
//!
//! Every schema file is registered with the validator under its `$id`, so
//! the relative `$ref`s between files resolve without any network access.
//! Schemas compile as draft 2020-12 with formats checked (`ipv4`, `ipv6`):
//! the README names that draft, and a validator that skipped formats would
//! let `10.0.0.256` through where the schema says an address.

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
    /// Loads the workspace's `schemas/` folder (or the one named by
    /// `VPCROUTE_SCHEMAS_DIR`), panicking with the reason if it is missing
    /// or broken.
    pub fn load() -> Self {
        Self::load_from(&Self::workspace_dir())
    }

    /// The workspace's `schemas/`: the first one above this crate.
    pub fn workspace_dir() -> PathBuf {
        match std::env::var_os("VPCROUTE_SCHEMAS_DIR") {
            Some(d) => PathBuf::from(d),
            None => find_schemas_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
                .expect("no schemas/index.json above CARGO_MANIFEST_DIR"),
        }
    }

    pub fn load_from(dir: &Path) -> Self {
        Self::try_load_from(dir).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Reads every `.json` file of `dir`; the error names the file that is
    /// missing or not JSON.
    pub fn try_load_from(dir: &Path) -> Result<Self, String> {
        let mut docs = BTreeMap::new();
        let mut index = None;
        for path in json_files(dir)? {
            let rel = path
                .strip_prefix(dir)
                .unwrap()
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("schema missing: cannot read {}: {e}", path.display()))?;
            let value: Value = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
            if rel == "index.json" {
                index = Some(value);
            } else {
                docs.insert(rel, value);
            }
        }
        Ok(Schemas {
            dir: dir.to_path_buf(),
            docs,
            index: index.ok_or_else(|| format!("{}/index.json is missing", dir.display()))?,
            cache: Mutex::new(HashMap::new()),
        })
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

    /// Every `subjects[]` entry of `index.json`: `(subject, request file,
    /// reply file)`. The index is the one list of messages: tests walk it
    /// rather than name the messages again.
    pub fn subjects(&self) -> Vec<(&str, &str, &str)> {
        self.index_rows("subjects")
            .map(|e| (text(e, "subject"), text(e, "request"), text(e, "reply")))
            .collect()
    }

    /// Every `events[]` entry of `index.json`: `(subject pattern, schema file)`.
    pub fn events(&self) -> Vec<(&str, &str)> {
        self.index_rows("events")
            .map(|e| (text(e, "subject"), text(e, "schema")))
            .collect()
    }

    /// The entries of `index.json`'s array `list`.
    fn index_rows(&self, list: &str) -> std::slice::Iter<'_, Value> {
        let entries = self.index[list].as_array().map(Vec::as_slice);
        entries.unwrap_or_default().iter()
    }

    /// Compiles every schema `index.json` names; the error says which
    /// subject's schema is missing or broken.
    pub fn compile_index(&self) -> Result<(), String> {
        let mut named: Vec<(String, &str)> = Vec::new();
        for (subject, request, reply) in self.subjects() {
            named.push((format!("requests on {subject}"), request));
            named.push((format!("replies on {subject}"), reply));
        }
        for (subject, schema) in self.events() {
            named.push((format!("events on {subject}"), schema));
        }
        for (what, rel) in named {
            if !self.docs.contains_key(rel) {
                return Err(format!(
                    "schema missing for {what}: no file schemas/{rel:?}"
                ));
            }
            self.try_validator(rel)
                .map_err(|e| format!("schema schemas/{rel} (for {what}) does not compile: {e}"))?;
        }
        Ok(())
    }

    /// The valid examples of the schema file `rel`: its `examples`, then the
    /// lines of its sibling `<rel without .json>.valid.jsonl` if there is one.
    pub fn valid_examples(&self, rel: &str) -> Vec<Value> {
        let own = self.docs.get(rel).and_then(|d| d["examples"].as_array());
        let mut out = own.cloned().unwrap_or_default();
        let path = self.dir.join(examples_file(rel, "valid"));
        if path.is_file() {
            let lines = crate::read_jsonl::<ValidExample>(&path);
            out.extend(lines.into_iter().map(|(_, e)| e.example));
        }
        out
    }

    /// The invalid examples of the schema file `rel`, from its sibling
    /// `<rel without .json>.invalid.jsonl` (none if there is no such file).
    pub fn invalid_examples(&self, rel: &str) -> Vec<InvalidExample> {
        let path = self.dir.join(examples_file(rel, "invalid"));
        if !path.is_file() {
            return Vec::new();
        }
        crate::read_jsonl::<InvalidExample>(&path)
            .into_iter()
            .map(|(_, e)| e)
            .collect()
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

/// Resolves `reference` (relative to the document `rel`) to a document path
/// and a JSON pointer, by hand, independently of the validator.
pub fn resolve_ref(rel: &str, reference: &str) -> (String, String) {
    let (path, fragment) = reference.split_once('#').unwrap_or((reference, ""));
    let doc = if path.is_empty() {
        rel.to_string()
    } else if let Some(abs) = path.strip_prefix(BASE_URI) {
        abs.to_string()
    } else {
        let mut parts: Vec<&str> = rel.split('/').collect();
        parts.pop();
        for seg in path.split('/') {
            match seg {
                ".." => {
                    assert!(parts.pop().is_some(), "{rel}: {reference} leaves schemas/");
                }
                "." => {}
                s => parts.push(s),
            }
        }
        parts.join("/")
    };
    (doc, fragment.to_string())
}

/// The string field `key` of an index entry (`""` if missing: no file has
/// that name, so a lookup of it fails and says so).
fn text<'a>(entry: &'a Value, key: &str) -> &'a str {
    entry[key].as_str().unwrap_or_default()
}

/// The file holding the `kind` (`valid`, `invalid`) examples of the schema
/// file `rel`: `ipam/vpc.allocate.request.json`, `invalid` →
/// `ipam/vpc.allocate.request.invalid.jsonl`.
pub fn examples_file(rel: &str, kind: &str) -> String {
    format!("{}.{kind}.jsonl", rel.strip_suffix(".json").unwrap_or(rel))
}

/// One line of a `*.invalid.jsonl` file: a message its schema refuses.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvalidExample {
    /// The message.
    pub example: Value,
    /// What makes it invalid.
    pub why: String,
    /// Who else refuses it (see [`RefusedBy`]).
    pub refused_by: RefusedBy,
}

/// Where, besides the schema, an invalid example is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusedBy {
    /// The Rust type does not deserialise it.
    Serde,
    /// The Rust type deserialises it; the message's own parser in the
    /// protocol crate refuses it (`AclRuleAdd::to_rule`, which ipam calls).
    Parser,
    /// The Rust type deserialises it; the service's own checks (names,
    /// CIDRs, OSPF limits, built-in lists) or the contract (no `null` for an
    /// absent field) refuse it.
    Service,
}

/// One line of a `*.valid.jsonl` file: a message its schema accepts, beyond
/// the schema's own `examples`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidExample {
    pub example: Value,
    /// What it shows.
    pub why: String,
}

fn json_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d)
            .map_err(|e| format!("schema missing: cannot list {}: {e}", d.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", d.display()))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}
