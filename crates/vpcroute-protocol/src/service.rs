//! `vpcroute.<service>.service.status`, which every service answers: how
//! far it has processed its inputs, and how its event log is written.
//!
//! It is what lets a test (or an operator) say "nothing else will happen"
//! without waiting and hoping: once every consumer reports having applied
//! its producers' heads, whatever those inputs set off has been decided
//! and made durable, so an absence seen then is an absence.

use serde::{Deserialize, Serialize};

/// The request: nothing to say (`{}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceStatusGet {}

/// The reply. Sent only once every append the service had decided when
/// the request arrived is durable, so `log.head` and every `applied_seq`
/// describe durable work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// `ipam`, `area-registry`, `config-renderer` or `router-sync`.
    pub service: String,
    /// A router-sync instance's name (several may share the bus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    pub log: LogStatus,
    /// Every other service's log this one follows, with the last seq of it
    /// handled (empty for ipam, which follows nobody).
    #[serde(default)]
    pub followed: Vec<FollowedLog>,
    /// Routers whose reports (config-renderer: router-sync's status
    /// publications) or configurations (router-sync: its own routers) this
    /// service follows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routers: Vec<RouterProgress>,
}

/// The service's own event log, as its writer connection has it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogStatus {
    /// Last durable seq (0 when empty).
    pub head: u64,
    /// `PRAGMA journal_mode` of the writer connection.
    pub journal_mode: JournalMode,
    /// `PRAGMA synchronous` of the writer connection.
    pub synchronous: Synchronous,
    /// What the service was asked for: `full` unless started with
    /// `--unsafe-no-fsync`.
    pub durability: Durability,
}

/// SQLite's journal modes (`PRAGMA journal_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalMode {
    Delete,
    Truncate,
    Persist,
    Memory,
    Wal,
    Off,
}

impl JournalMode {
    /// From what `PRAGMA journal_mode` answers (any case).
    pub fn parse(text: &str) -> Option<JournalMode> {
        Some(match text.to_ascii_lowercase().as_str() {
            "delete" => JournalMode::Delete,
            "truncate" => JournalMode::Truncate,
            "persist" => JournalMode::Persist,
            "memory" => JournalMode::Memory,
            "wal" => JournalMode::Wal,
            "off" => JournalMode::Off,
            _ => return None,
        })
    }
}

/// SQLite's fsync levels (`PRAGMA synchronous`: 0 to 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Synchronous {
    Off,
    Normal,
    Full,
    Extra,
}

impl Synchronous {
    /// From the number `PRAGMA synchronous` answers.
    pub fn from_level(level: i64) -> Option<Synchronous> {
        Some(match level {
            0 => Synchronous::Off,
            1 => Synchronous::Normal,
            2 => Synchronous::Full,
            3 => Synchronous::Extra,
            _ => return None,
        })
    }
}

/// The durability a service asked of its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// Every acknowledged append survives power loss (`synchronous=FULL`).
    Full,
    /// `--unsafe-no-fsync`: benchmarks and throwaway tests only.
    Relaxed,
}

/// How far a follower has got in a producer's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowedLog {
    /// The producer: `ipam` or `area-registry`.
    pub source: String,
    /// The last seq of the producer's log handled (everything up to it has
    /// been decided, and what it decided is durable).
    pub applied_seq: u64,
}

/// Where one router stands, as far as this service has heard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterProgress {
    pub router: String,
    /// router-sync: the latest version received from the config-renderer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_version: Option<u64>,
    /// The version last applied and verified on the router (the
    /// config-renderer: as last reported by router-sync).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_version: Option<u64>,
}
