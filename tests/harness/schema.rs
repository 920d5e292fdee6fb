//! The JSON Schemas of `schemas/`, compiled for validating captured
//! messages.
//!
//! Layout: `schemas/index.json` lists, per request subject, the schema of
//! the request and of the reply, and per event subject pattern the event
//! schema. Every schema document under `schemas/` is registered as a
//! resource (under its `$id`, and under `https://vpcroute.dev/schemas/` +
//! its path), so `$ref`s between them resolve offline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jsonschema::{Resource, Validator};
use serde_json::Value;
use vpcroute_bus::subjects::subject_matches;

use crate::wiretap::{Captured, Direction};

pub const BASE_URI: &str = "https://vpcroute.dev/schemas/";

pub struct SchemaSet {
    dir: PathBuf,
    /// request subject -> (request validator, reply validator)
    subjects: BTreeMap<String, (Validator, Validator)>,
    /// event subject pattern (NATS wildcards) -> validator
    events: Vec<(String, Validator)>,
}

/// The workspace's `schemas/` directory.
pub fn schemas_dir() -> PathBuf {
    crate::bins::workspace_root().join("schemas")
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("schema missing: cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

impl SchemaSet {
    /// Loads and compiles every schema the index names.
    pub fn load(dir: &Path) -> Result<SchemaSet, String> {
        let index = read_json(&dir.join("index.json"))?;
        let mut files = Vec::new();
        json_files(dir, &mut files);
        files.sort();
        let mut resources: Vec<(String, Value)> = Vec::new();
        let mut by_path: BTreeMap<String, Value> = BTreeMap::new();
        for f in &files {
            let rel = f
                .strip_prefix(dir)
                .expect("under dir")
                .to_string_lossy()
                .replace('\\', "/");
            if rel == "index.json" {
                continue;
            }
            let doc = read_json(f)?;
            let path_uri = format!("{BASE_URI}{rel}");
            if let Some(id) = doc.get("$id").and_then(Value::as_str) {
                if id != path_uri {
                    resources.push((id.to_string(), doc.clone()));
                }
            }
            resources.push((path_uri, doc.clone()));
            by_path.insert(rel, doc);
        }
        let compile = |rel: &str, what: &str| -> Result<Validator, String> {
            let doc = by_path
                .get(rel)
                .ok_or_else(|| format!("schema missing for {what}: no file schemas/{rel}"))?;
            let mut doc = doc.clone();
            // Resolve a document without `$id` relative to its own path.
            if doc.get("$id").is_none() {
                if let Some(obj) = doc.as_object_mut() {
                    obj.insert("$id".into(), Value::String(format!("{BASE_URI}{rel}")));
                }
            }
            let mut res = Vec::new();
            for (uri, d) in &resources {
                res.push((
                    uri.clone(),
                    Resource::from_contents(d.clone())
                        .map_err(|e| format!("schema resource {uri}: {e}"))?,
                ));
            }
            jsonschema::options()
                .with_resources(res.into_iter())
                .build(&doc)
                .map_err(|e| format!("schema schemas/{rel} (for {what}) does not compile: {e}"))
        };
        let mut subjects = BTreeMap::new();
        for entry in index["subjects"]
            .as_array()
            .ok_or("index.json has no \"subjects\" array")?
        {
            let subject = entry["subject"]
                .as_str()
                .ok_or_else(|| format!("index.json: subject entry without subject: {entry}"))?;
            let req = entry["request"].as_str().ok_or_else(|| {
                format!("schema missing for subject {subject}: no request schema")
            })?;
            let rep = entry["reply"]
                .as_str()
                .ok_or_else(|| format!("schema missing for subject {subject}: no reply schema"))?;
            subjects.insert(
                subject.to_string(),
                (
                    compile(req, &format!("requests on {subject}"))?,
                    compile(rep, &format!("replies on {subject}"))?,
                ),
            );
        }
        let mut events = Vec::new();
        for entry in index["events"]
            .as_array()
            .ok_or("index.json has no \"events\" array")?
        {
            let subject = entry["subject"]
                .as_str()
                .ok_or_else(|| format!("index.json: event entry without subject: {entry}"))?;
            let schema = entry["schema"]
                .as_str()
                .ok_or_else(|| format!("schema missing for events on {subject}"))?;
            events.push((
                subject.to_string(),
                compile(schema, &format!("events on {subject}"))?,
            ));
        }
        Ok(SchemaSet {
            dir: dir.to_path_buf(),
            subjects,
            events,
        })
    }

    /// Loads the workspace's `schemas/`, panicking with a clear message if
    /// they are missing or broken.
    pub fn workspace() -> SchemaSet {
        SchemaSet::load(&schemas_dir()).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn request_subjects(&self) -> impl Iterator<Item = &str> {
        self.subjects.keys().map(String::as_str)
    }

    /// Validates one captured message; the error names the subject, the
    /// message and every violation.
    pub fn validate(&self, msg: &Captured) -> Result<(), String> {
        if !msg.is_json {
            return Err(format!(
                "{:?} on {} is not JSON: {}",
                msg.direction, msg.subject, msg.body
            ));
        }
        let validator = match msg.direction {
            Direction::Event => self
                .events
                .iter()
                .find(|(p, _)| subject_matches(p, &msg.subject))
                .map(|(_, v)| v)
                .ok_or_else(|| format!("schema missing for subject {} (events)", msg.subject))?,
            Direction::Request | Direction::Reply => {
                // Exact, or a wildcard entry (a subject per router).
                let (req, rep) = self
                    .subjects
                    .get(&msg.subject)
                    .or_else(|| {
                        self.subjects
                            .iter()
                            .find(|(p, _)| subject_matches(p, &msg.subject))
                            .map(|(_, v)| v)
                    })
                    .ok_or_else(|| {
                        format!(
                            "schema missing for subject {} (not in {}/index.json)",
                            msg.subject,
                            self.dir.display()
                        )
                    })?;
                if msg.direction == Direction::Request {
                    req
                } else {
                    rep
                }
            }
        };
        let errors: Vec<String> = validator
            .iter_errors(&msg.body)
            .map(|e| format!("  at {}: {e}", e.instance_path))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{:?} on {} does not match its schema:\n{}\nmessage: {}",
                msg.direction,
                msg.subject,
                errors.join("\n"),
                msg.body
            ))
        }
    }
}
