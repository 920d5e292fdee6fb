//! The JSON Schemas of `schemas/`, checked against captured messages.
//!
//! The loading and compiling is `vpcroute_testkit::Schemas`, the one loader
//! the protocol crate's schema tests use too; this adds only the choice of
//! schema by a captured message's direction and subject.

use std::path::Path;

use vpcroute_testkit::Schemas;

use crate::wiretap::{Captured, Direction};

pub struct SchemaSet {
    schemas: Schemas,
}

impl SchemaSet {
    /// Loads `dir` and compiles every schema the index names.
    pub fn load(dir: &Path) -> Result<SchemaSet, String> {
        let schemas = Schemas::try_load_from(dir)?;
        schemas.compile_index()?;
        Ok(SchemaSet { schemas })
    }

    /// Loads the workspace's `schemas/`, panicking with a clear message if
    /// they are missing or broken.
    pub fn workspace() -> SchemaSet {
        let dir = crate::bins::workspace_root().join("schemas");
        SchemaSet::load(&dir).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Panics unless `msg`, published on `subject`, matches the event
    /// schema `index.json` names for that subject.
    pub fn assert_valid_event(&self, subject: &str, msg: &serde_json::Value) {
        if let Err(errors) = self.schemas.check_event(subject, msg) {
            panic!(
                "event on {subject} does not match its schema:\n  {}\nmessage: {msg}",
                errors.join("\n  ")
            );
        }
    }

    pub fn request_subjects(&self) -> impl Iterator<Item = &str> {
        self.schemas.subjects().into_iter().map(|(s, _, _)| s)
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
        let s = &self.schemas;
        let checked = match msg.direction {
            Direction::Event => s.check_event(&msg.subject, &msg.body),
            Direction::Request => s.check_request(&msg.subject, &msg.body),
            Direction::Reply => s.check_reply(&msg.subject, &msg.body),
        };
        checked.map_err(|errors| {
            format!(
                "{:?} on {} does not match its schema (schemas: {}):\n  {}\nmessage: {}",
                msg.direction,
                msg.subject,
                s.dir.display(),
                errors.join("\n  "),
                msg.body
            )
        })
    }
}
