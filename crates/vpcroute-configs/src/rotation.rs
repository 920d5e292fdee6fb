//! A zone's MD5 key rotation, in three steps, so that no router ever signs
//! with a key a neighbour lacks (issue 11 item 8; docs/frr-notes.md §5).
//!
//! FRR 8.4's ospfd signs every packet with the key added last to the
//! interface and accepts any key id it has. A key changed on each router
//! at its own moment therefore breaks adjacencies: an early router signs
//! with a key id the others drop. So a new key (which always has a new key
//! id: the area registry refuses a new key under the id in use) goes out in
//! steps, each one waiting until every router of the zone has reported
//! (router-sync's `vpcroute.sync.status.<router>`, `applied_version`) the
//! version that carries it:
//!
//! 1. [`RotationPhase::AddNew`]: both keys, signing with the old one;
//! 2. [`RotationPhase::SendNew`]: both keys, signing with the new one;
//! 3. done: the new key only.
//!
//! A router that never reports holds the rotation at its step, with the
//! old key still configured everywhere: safe, and shown as `waiting_for`.
//! A key change that arrives during a rotation waits for it to finish and
//! then starts the next one. Leaving MD5 (to none or plaintext) ends a
//! rotation at once: OSPF has no overlap between authentication types.

use vpcroute_protocol::areas::{OspfAuth, Secret};
use vpcroute_render::{Md5Rotation, SendKey};

/// Where a zone's rotation stands (`add_new`, `send_new`).
pub use vpcroute_protocol::config::KeyRotationPhase as RotationPhase;

/// What a `key_rotation_advanced` event moves a rotation to.
pub use vpcroute_protocol::config::RotationStep;

/// A rotation in progress. Its `Debug` hides the keys (`Secret`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub old: (u8, Secret),
    pub new: (u8, Secret),
    pub phase: RotationPhase,
    /// When `SendNew` began (the `key_rotation_advanced` event's `at_ms`).
    pub send_new_since_ms: Option<i64>,
}

/// The MD5 key id and key of settings' authentication, if MD5.
pub fn md5_key(auth: &OspfAuth) -> Option<(u8, Secret)> {
    match auth {
        OspfAuth::Md5 { key_id, key } => Some((*key_id, key.clone())),
        _ => None,
    }
}

impl Rotation {
    /// The rotation a settings change starts, continues or ends, given the
    /// zone's rotation before it and the MD5 key before and after.
    pub fn on_settings(
        current: Option<Rotation>,
        before: Option<(u8, Secret)>,
        after: Option<(u8, Secret)>,
    ) -> Option<Rotation> {
        match (current, before, after) {
            // No longer MD5: nothing to overlap with.
            (_, _, None) => None,
            // A rotation runs: the newer key waits for it (see `next`).
            (Some(r), _, Some(_)) => Some(r),
            // Only between two key ids: a key changed under its id (a log
            // written before the area registry refused that) cannot
            // overlap, and is replaced at once as it always was.
            (None, Some(old), Some(new)) if old.0 != new.0 => Some(Rotation {
                old,
                new,
                phase: RotationPhase::AddNew,
                send_new_since_ms: None,
            }),
            (None, _, Some(_)) => None,
        }
    }

    /// The step after this one: `SendNew` after `AddNew`, then `Done`.
    pub fn next_step(&self) -> RotationStep {
        match self.phase {
            RotationPhase::AddNew => RotationStep::SendNew,
            RotationPhase::SendNew => RotationStep::Done,
        }
    }

    /// The rotation after `step`, given the zone's key now: after `Done`,
    /// none, or the next rotation when the key changed meanwhile.
    pub fn advanced(
        self,
        step: RotationStep,
        at_ms: i64,
        zone_key: Option<(u8, Secret)>,
    ) -> Option<Rotation> {
        match step {
            RotationStep::SendNew => Some(Rotation {
                phase: RotationPhase::SendNew,
                send_new_since_ms: Some(at_ms),
                ..self
            }),
            RotationStep::Done => match zone_key {
                Some(latest) if latest.0 != self.new.0 => Some(Rotation {
                    old: self.new,
                    new: latest,
                    phase: RotationPhase::AddNew,
                    send_new_since_ms: None,
                }),
                _ => None,
            },
        }
    }

    /// The earliest time the old key may go (`hold_ms` after `SendNew`
    /// began): routers vpcroute does not manage (the core) switch to
    /// signing with the new key in that window, so it must last long
    /// enough for their operator (README, "Rotating the OSPF key").
    pub fn old_key_kept_until_ms(&self, hold_ms: i64) -> Option<i64> {
        self.send_new_since_ms.map(|t| t.saturating_add(hold_ms))
    }

    /// Whether the next step may be taken at `now_ms`, once every managed
    /// router has the current one.
    pub fn hold_over(&self, now_ms: i64, hold_ms: i64) -> bool {
        self.old_key_kept_until_ms(hold_ms)
            .is_none_or(|until| now_ms >= until)
    }

    /// The key id the zone's routers are told to sign with.
    pub fn sending_key_id(&self) -> u8 {
        match self.phase {
            RotationPhase::AddNew => self.old.0,
            RotationPhase::SendNew => self.new.0,
        }
    }

    /// The zone's authentication as routers get it during the rotation,
    /// and the key kept beside it.
    pub fn router_keys(&self) -> (OspfAuth, Md5Rotation) {
        (
            OspfAuth::Md5 {
                key_id: self.new.0,
                key: self.new.1.clone(),
            },
            Md5Rotation {
                old_key_id: self.old.0,
                old_key: self.old.1.clone(),
                send: match self.phase {
                    RotationPhase::AddNew => SendKey::Old,
                    RotationPhase::SendNew => SendKey::New,
                },
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(id: u8, key: &str) -> Option<(u8, Secret)> {
        Some((id, Secret::new(key)))
    }

    #[test]
    fn three_steps_then_the_deferred_key() {
        let r = Rotation::on_settings(None, k(1, "a"), k(2, "b")).unwrap();
        assert_eq!(r.phase, RotationPhase::AddNew);
        assert_eq!(r.router_keys().1.send, SendKey::Old);
        // A third key while the rotation runs: kept for later.
        let r = Rotation::on_settings(Some(r), k(2, "b"), k(3, "c")).unwrap();
        assert_eq!(r.new, (2, Secret::new("b")));
        let r = r.advanced(RotationStep::SendNew, 0, k(3, "c")).unwrap();
        assert_eq!(r.router_keys().1.send, SendKey::New);
        assert_eq!(r.next_step(), RotationStep::Done);
        let r = r.advanced(RotationStep::Done, 0, k(3, "c")).unwrap();
        assert_eq!((r.old.0, r.new.0, r.phase), (2, 3, RotationPhase::AddNew));
        assert!(r
            .advanced(RotationStep::SendNew, 0, k(3, "c"))
            .unwrap()
            .advanced(RotationStep::Done, 0, k(3, "c"))
            .is_none());
        // No rotation into or out of MD5, nor for an unchanged key.
        assert!(Rotation::on_settings(None, None, k(1, "a")).is_none());
        assert!(Rotation::on_settings(None, k(1, "a"), k(1, "a")).is_none());
        let r = Rotation::on_settings(None, k(1, "a"), k(2, "b"));
        assert!(Rotation::on_settings(r, k(2, "b"), None).is_none());
    }
}
