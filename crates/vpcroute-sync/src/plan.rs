//! The smallest ordered list of vtysh commands from a running
//! configuration to a desired one, worked out on the configuration model
//! rather than by diffing text (as `frr-reload.py` does).
//!
//! Order matters to FRR and to the network:
//! 1. `router ospf` additions first — above all `area X range`, which FRR
//!    8.4 only honours reliably when it exists before the area's
//!    interfaces join (see docs/frr-notes.md);
//! 2. then each desired interface: new and changed lines before stale ones
//!    are removed, so an MD5 key rotation adds the new key before the old
//!    one goes and the adjacency never lacks a common key; and
//!    `ip ospf area` last of all, once the timers and keys it must start
//!    with are in place;
//! 3. then interfaces vpcroute no longer wants are cleared;
//! 4. then stale `router ospf` lines, after no interface needs them.
//!
//! Lines that did not change produce no command, so an adjacency the
//! change does not concern is never touched.

use std::collections::BTreeSet;

use crate::frrconf::FrrConfig;

/// What a line sets, so an old and a new value of the same setting are
/// recognised as a change rather than an addition and a removal.
fn line_key(line: &str) -> String {
    let w: Vec<&str> = line.split_whitespace().collect();
    match w.as_slice() {
        ["ip", "ospf", "message-digest-key", id, ..] => format!("ip ospf message-digest-key {id}"),
        ["ip", "ospf", "authentication-key", ..] => "ip ospf authentication-key".into(),
        ["ip", "ospf", "authentication", ..] => "ip ospf authentication".into(),
        ["ip", "ospf", "passive", ..] => "ip ospf passive".into(),
        ["ip", "ospf", setting, _value] => format!("ip ospf {setting}"),
        ["description", ..] => "description".into(),
        ["ospf", "router-id", ..] => "ospf router-id".into(),
        ["area", area, "range", cidr, ..] => format!("area {area} range {cidr}"),
        ["log-adjacency-changes", ..] => "log-adjacency-changes".into(),
        ["network", cidr, ..] => format!("network {cidr}"),
        _ => line.to_string(),
    }
}

/// The command that removes `line`.
fn no_form(line: &str) -> String {
    let w: Vec<&str> = line.split_whitespace().collect();
    match w.as_slice() {
        ["ip", "ospf", "area", ..] => "no ip ospf area".into(),
        ["ip", "ospf", "message-digest-key", id, ..] => {
            format!("no ip ospf message-digest-key {id}")
        }
        ["ip", "ospf", "authentication-key", ..] => "no ip ospf authentication-key".into(),
        ["ip", "ospf", "authentication", ..] => "no ip ospf authentication".into(),
        ["description", ..] => "no description".into(),
        ["ospf", "router-id", ..] => "no ospf router-id".into(),
        _ => format!("no {line}"),
    }
}

/// `ip ospf area X` or `no ip ospf area`: the command that puts an
/// interface into (or takes it out of) an area.
fn is_area_command(cmd: &str) -> bool {
    cmd.starts_with("ip ospf area ") || cmd == "no ip ospf area"
}

/// Settings FRR refuses to overwrite in place: the old value must go first.
fn must_remove_before_change(key: &str) -> bool {
    key == "ip ospf area" || key.starts_with("ip ospf message-digest-key ")
}

/// Where a command runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Context {
    Interface(String),
    RouterOspf,
    /// `configure terminal` level.
    Config,
}

/// An ordered list of `(context, command)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<(Context, String)>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    fn push(&mut self, ctx: Context, cmd: impl Into<String>) {
        self.steps.push((ctx, cmd.into()));
    }

    /// The plan as a vtysh script: `configure terminal`, each context
    /// entered once per run of its commands, `end`.
    pub fn script(&self) -> String {
        let mut out = String::from("configure terminal\n");
        let mut current: Option<&Context> = None;
        for (ctx, cmd) in &self.steps {
            if current != Some(ctx) {
                if matches!(
                    current,
                    Some(Context::Interface(_)) | Some(Context::RouterOspf)
                ) {
                    out.push_str("exit\n");
                }
                match ctx {
                    Context::Interface(name) => out.push_str(&format!("interface {name}\n")),
                    Context::RouterOspf => out.push_str("router ospf\n"),
                    Context::Config => {}
                }
                current = Some(ctx);
            }
            out.push_str(cmd);
            out.push('\n');
        }
        out.push_str("end\n");
        out
    }
}

/// Changes one context's lines from `running` to `desired`: returns the
/// additions/changes and the removals, separately, so the caller orders
/// them.
fn diff_lines(desired: &[String], running: &[String]) -> (Vec<String>, Vec<String>) {
    let running_set: BTreeSet<&str> = running.iter().map(String::as_str).collect();
    let desired_keys: BTreeSet<String> = desired.iter().map(|l| line_key(l)).collect();
    let mut adds = Vec::new();
    for line in desired {
        if running_set.contains(line.as_str()) {
            continue;
        }
        let key = line_key(line);
        if must_remove_before_change(&key) {
            if let Some(old) = running.iter().find(|r| line_key(r) == key) {
                adds.push(no_form(old));
            }
        }
        adds.push(line.clone());
    }
    let removes = running
        .iter()
        .filter(|r| !desired_keys.contains(&line_key(r)))
        .map(|r| no_form(r))
        .collect();
    (adds, removes)
}

fn is_md5_key(line: &str) -> bool {
    line.starts_with("ip ospf message-digest-key ")
}

/// ospfd signs with the MD5 key added last, and entering a key again
/// moves it to the end (docs/frr-notes.md §5); the desired text's last key
/// line is the key to sign with. The router's order cannot be read back:
/// vtysh sorts an interface's lines in `show running-config`. So whenever
/// keys are added, and on every new version (`new_version`: a rotation's
/// step 2 changes only which key signs), the plan ends its key commands
/// with the signing key, entered again (in one command, so its id is never
/// missing).
fn keep_sending_key_last(desired: &[String], adds: &mut Vec<String>, new_version: bool) {
    let Some(send) = desired.iter().rev().find(|l| is_md5_key(l)) else {
        return;
    };
    let last_key_add = adds.iter().rev().find(|l| is_md5_key(l));
    if (new_version || last_key_add.is_some()) && last_key_add != Some(send) {
        adds.push(send.clone());
    }
}

/// The commands that make `running` into `desired`; empty when they agree.
pub fn plan(desired: &FrrConfig, running: &FrrConfig) -> Plan {
    plan_with(desired, running, false)
}

/// [`plan`] for a version the router has not had yet: also makes the
/// router sign with the desired key, which `plan` cannot see it lacks.
pub fn plan_new_version(desired: &FrrConfig, running: &FrrConfig) -> Plan {
    plan_with(desired, running, true)
}

fn plan_with(desired: &FrrConfig, running: &FrrConfig, new_version: bool) -> Plan {
    let mut p = Plan::default();
    let empty = Vec::new();

    // A router vpcroute no longer configures at all (its VPC is gone).
    let Some(desired_ospf) = &desired.router_ospf else {
        for (name, lines) in &running.interfaces {
            for l in lines {
                p.push(Context::Interface(name.clone()), no_form(l));
            }
        }
        if running.router_ospf.is_some() {
            p.push(Context::Config, "no router ospf");
        }
        return p;
    };
    let running_ospf = running.router_ospf.as_ref().unwrap_or(&empty);
    let (ospf_adds, ospf_removes) = diff_lines(desired_ospf, running_ospf);
    for cmd in ospf_adds {
        p.push(Context::RouterOspf, cmd);
    }
    for (name, lines) in &desired.interfaces {
        let running_lines = running.interfaces.get(name).unwrap_or(&empty);
        let (mut adds, removes) = diff_lines(lines, running_lines);
        keep_sending_key_last(lines, &mut adds, new_version);
        // Joining the area goes last, after every timer, key and `passive`
        // (and after stale ones are gone): FRR 8.4 starts the interface's
        // wait timer from the dead interval in force when it joins, so a
        // fast zone's timers set a moment later still waited the default
        // 40 s before the DR election (docs/frr-notes.md §11). This holds
        // whatever order the desired text has, and on an interface that
        // already exists.
        let (joins, settings): (Vec<String>, Vec<String>) =
            adds.into_iter().partition(|c| is_area_command(c));
        for cmd in settings.into_iter().chain(removes).chain(joins) {
            p.push(Context::Interface(name.clone()), cmd);
        }
    }
    for (name, lines) in &running.interfaces {
        if !desired.interfaces.contains_key(name) {
            for l in lines {
                p.push(Context::Interface(name.clone()), no_form(l));
            }
        }
    }
    for cmd in ospf_removes {
        p.push(Context::RouterOspf, cmd);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> FrrConfig {
        FrrConfig::parse(text)
    }

    const BASE: &str = r"interface eth1
 ip ospf area 0.0.0.0
 ip ospf hello-interval 10
 ip ospf authentication message-digest
 ip ospf message-digest-key 1 md5 OLDKEY
exit
interface eth2
 ip ospf area 0.0.0.5
 ip ospf passive
exit
router ospf
 ospf router-id 10.255.0.1
 area 0.0.0.5 range 10.1.0.0/22
exit
";

    #[test]
    fn equal_configs_need_nothing() {
        assert!(plan(&cfg(BASE), &cfg(BASE)).is_empty());
    }

    #[test]
    fn new_tier_touches_only_its_interface() {
        let desired =
            format!("{BASE}interface eth3\n ip ospf area 0.0.0.5\n ip ospf passive\nexit\n");
        let p = plan(&cfg(&desired), &cfg(BASE));
        assert_eq!(
            p.steps,
            vec![
                (Context::Interface("eth3".into()), "ip ospf passive".into()),
                (
                    Context::Interface("eth3".into()),
                    "ip ospf area 0.0.0.5".into()
                ),
            ]
        );
        assert_eq!(
            p.script(),
            "configure terminal\ninterface eth3\nip ospf passive\nip ospf area 0.0.0.5\nend\n"
        );
    }

    /// The commands for one interface, in order.
    fn interface_cmds(p: &Plan, name: &str) -> Vec<String> {
        p.steps
            .iter()
            .filter(|(c, _)| *c == Context::Interface(name.into()))
            .map(|(_, cmd)| cmd.clone())
            .collect()
    }

    #[test]
    fn a_new_uplink_joins_its_area_after_its_timers_and_key() {
        // Desired text in the order the renderer used to write it (area
        // first): the plan still joins the area last.
        let desired = "interface eth1\n ip ospf area 0.0.0.0\n ip ospf hello-interval 1\n ip ospf dead-interval 4\n ip ospf authentication message-digest\n ip ospf message-digest-key 1 md5 K\nexit\nrouter ospf\n ospf router-id 1.1.1.1\nexit\n";
        let cmds = interface_cmds(&plan(&cfg(desired), &FrrConfig::default()), "eth1");
        assert_eq!(cmds.last().unwrap(), "ip ospf area 0.0.0.0", "{cmds:?}");
        assert_eq!(cmds.len(), 5, "{cmds:?}");
    }

    #[test]
    fn an_existing_interface_changes_timers_before_it_joins_or_changes_area() {
        // The interface exists (a description, a stale timer) but is in no
        // area yet, then in another area: either way the timers go first.
        let running =
            "interface eth1\n description vpcroute uplink\n ip ospf dead-interval 40\nexit\n";
        let desired = "interface eth1\n description vpcroute uplink\n ip ospf dead-interval 4\n ip ospf area 0.0.0.0\nexit\nrouter ospf\nexit\n";
        let cmds = interface_cmds(&plan(&cfg(desired), &cfg(running)), "eth1");
        assert_eq!(
            cmds,
            vec!["ip ospf dead-interval 4", "ip ospf area 0.0.0.0"]
        );
        let running = "interface eth1\n ip ospf area 0.0.0.7\n ip ospf dead-interval 40\nexit\n";
        let cmds = interface_cmds(&plan(&cfg(desired), &cfg(running)), "eth1");
        assert_eq!(
            cmds,
            vec![
                "description vpcroute uplink",
                "ip ospf dead-interval 4",
                "no ip ospf area",
                "ip ospf area 0.0.0.0"
            ]
        );
    }

    #[test]
    fn key_rotation_adds_new_key_before_removing_old() {
        let desired = BASE.replace(
            "message-digest-key 1 md5 OLDKEY",
            "message-digest-key 2 md5 NEWKEY",
        );
        let p = plan(&cfg(&desired), &cfg(BASE));
        let cmds: Vec<&str> = p.steps.iter().map(|(_, c)| c.as_str()).collect();
        assert_eq!(
            cmds,
            vec![
                "ip ospf message-digest-key 2 md5 NEWKEY",
                "no ip ospf message-digest-key 1"
            ]
        );
    }

    /// A rotation's three steps, each planned against what the router shows
    /// after the one before (vtysh shows the keys sorted by id): the router
    /// never signs with a key it was not told to.
    #[test]
    fn rotation_keeps_the_sending_key_last() {
        let cmds = |p: Plan| -> Vec<String> { p.steps.into_iter().map(|s| s.1).collect() };
        let both = |first: &str, second: &str| {
            BASE.replace(
                " ip ospf message-digest-key 1 md5 OLDKEY\n",
                &format!(
                    " ip ospf message-digest-key {first}\n ip ospf message-digest-key {second}\n"
                ),
            )
        };
        let shown = both("1 md5 OLDKEY", "2 md5 NEWKEY");
        // 1. Add the new key, keep signing with the old one.
        let phase1 = both("2 md5 NEWKEY", "1 md5 OLDKEY");
        let enter_old = "ip ospf message-digest-key 1 md5 OLDKEY";
        let enter_new = "ip ospf message-digest-key 2 md5 NEWKEY";
        for p in [
            plan(&cfg(&phase1), &cfg(BASE)),
            plan_new_version(&cfg(&phase1), &cfg(BASE)),
        ] {
            assert_eq!(cmds(p), vec![enter_new, enter_old]);
        }
        // Done: nothing left to plan against what FRR then shows.
        assert!(plan(&cfg(&phase1), &cfg(&shown)).is_empty());
        // 2. Sign with the new key: only a new version can say so.
        let phase2 = both("1 md5 OLDKEY", "2 md5 NEWKEY");
        assert!(plan(&cfg(&phase2), &cfg(&shown)).is_empty());
        assert_eq!(
            cmds(plan_new_version(&cfg(&phase2), &cfg(&shown))),
            vec![enter_new]
        );
        // 3. Drop the old key (signing with the new one made sure first).
        let phase3 = BASE.replace("1 md5 OLDKEY", "2 md5 NEWKEY");
        assert_eq!(
            cmds(plan_new_version(&cfg(&phase3), &cfg(&shown))),
            vec![enter_new, "no ip ospf message-digest-key 1"]
        );
        assert_eq!(
            cmds(plan(&cfg(&phase3), &cfg(&shown))),
            vec!["no ip ospf message-digest-key 1"]
        );
        // A router still at the start when phase 2 is due gets both keys
        // and signs with the new one.
        assert_eq!(
            cmds(plan_new_version(&cfg(&phase2), &cfg(BASE))),
            vec![enter_new]
        );
        // Without keys, a new version adds nothing.
        let none = "interface eth1\n ip ospf area 0.0.0.0\nexit\nrouter ospf\nexit\n";
        assert!(plan_new_version(&cfg(none), &cfg(none)).is_empty());
    }

    #[test]
    fn same_key_id_new_key_replaces() {
        let desired = BASE.replace("OLDKEY", "NEWKEY");
        let cmds: Vec<String> = plan(&cfg(&desired), &cfg(BASE))
            .steps
            .into_iter()
            .map(|s| s.1)
            .collect();
        assert_eq!(
            cmds,
            vec![
                "no ip ospf message-digest-key 1",
                "ip ospf message-digest-key 1 md5 NEWKEY"
            ]
        );
    }

    #[test]
    fn back_to_a_default_timer_removes_the_line() {
        let running = BASE.replace("hello-interval 10", "hello-interval 5");
        let cmds: Vec<String> = plan(&cfg(BASE), &cfg(&running))
            .steps
            .into_iter()
            .map(|s| s.1)
            .collect();
        assert_eq!(cmds, vec!["no ip ospf hello-interval 5"]);
    }

    #[test]
    fn timer_change_is_one_command() {
        let desired = BASE.replace("hello-interval 10", "hello-interval 5");
        let p = plan(&cfg(&desired), &cfg(BASE));
        assert_eq!(
            p.steps,
            vec![(
                Context::Interface("eth1".into()),
                "ip ospf hello-interval 5".into()
            )]
        );
    }

    #[test]
    fn range_is_added_before_interfaces_and_removed_after() {
        let running = "interface eth1\n ip ospf area 0.0.0.0\nexit\nrouter ospf\n ospf router-id 1.1.1.1\n area 0.0.0.4 range 10.9.0.0/22\nexit\ninterface eth9\n ip ospf area 0.0.0.4\nexit\n";
        let desired = "interface eth1\n ip ospf area 0.0.0.0\nexit\ninterface eth2\n ip ospf area 0.0.0.5\nexit\nrouter ospf\n ospf router-id 1.1.1.1\n area 0.0.0.5 range 10.1.0.0/22\nexit\n";
        let steps = plan(&cfg(desired), &cfg(running)).steps;
        let pos = |c: &str| steps.iter().position(|(_, s)| s == c).unwrap();
        assert!(pos("area 0.0.0.5 range 10.1.0.0/22") < pos("ip ospf area 0.0.0.5"));
        assert!(pos("no ip ospf area") < pos("no area 0.0.0.4 range 10.9.0.0/22"));
    }

    #[test]
    fn area_change_removes_old_area_first() {
        let desired = BASE.replace("ip ospf area 0.0.0.5", "ip ospf area 0.0.0.6");
        let cmds: Vec<String> = plan(&cfg(&desired), &cfg(BASE))
            .steps
            .into_iter()
            .map(|s| s.1)
            .collect();
        assert_eq!(cmds, vec!["no ip ospf area", "ip ospf area 0.0.0.6"]);
    }

    #[test]
    fn hand_added_lines_are_removed() {
        let running = BASE.replace(
            "router ospf\n",
            "router ospf\n network 10.99.0.0/16 area 0.0.0.0\n",
        );
        let cmds: Vec<String> = plan(&cfg(BASE), &cfg(&running))
            .steps
            .into_iter()
            .map(|s| s.1)
            .collect();
        assert_eq!(cmds, vec!["no network 10.99.0.0/16 area 0.0.0.0"]);
    }

    #[test]
    fn empty_router_gets_everything_and_deleted_vpc_clears_everything() {
        let p = plan(&cfg(BASE), &FrrConfig::default());
        // 8 lines, of which `hello-interval 10` is FRR's default, not shown.
        assert_eq!(p.steps.len(), 7);
        assert_eq!(
            p.steps[0],
            (Context::RouterOspf, "ospf router-id 10.255.0.1".into())
        );
        let gone = plan(&FrrConfig::default(), &cfg(BASE));
        assert_eq!(
            gone.steps.last().unwrap(),
            &(Context::Config, "no router ospf".into())
        );
    }
}
