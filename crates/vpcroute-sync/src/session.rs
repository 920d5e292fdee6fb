//! The text side of one long-lived vtysh reading commands on its standard
//! input (docs/frr-notes.md §9). Starting vtysh costs tens of milliseconds
//! of CPU (it builds its whole command tree), answering a command well
//! under one, so router-sync keeps one vtysh per router and only writes
//! commands to it.
//!
//! vtysh prints no end-of-answer mark and FRR 8.4 has no `echo` command,
//! so each command is followed by a marker line that is no command at all:
//! vtysh answers it itself, at once, with `% Unknown command: MARKER`,
//! after everything the command before it printed. Between two such lines
//! is one command's answer, framed by what vtysh echoes of its input: the
//! prompt and the command line first, the prompt and the marker last.

/// A marker no FRR command starts with, unique within one session.
pub fn marker(n: u64) -> String {
    format!("vpcroute-sync-mark-{n}")
}

/// Commands followed by their markers (`first`, `first + 1`, ...), as
/// written to vtysh. A command may be a whole multi-line script.
pub fn framed(commands: &[&str], first: u64) -> String {
    let mut out = String::new();
    for (i, c) in commands.iter().enumerate() {
        out.push_str(c.trim_end_matches('\n'));
        out.push('\n');
        out.push_str(&marker(first + i as u64));
        out.push('\n');
    }
    out
}

/// Takes the answer ended by `marker` off the front of `buf` (vtysh's raw
/// output so far), when it has arrived in full.
pub fn take_answer(buf: &mut Vec<u8>, marker: &str) -> Option<String> {
    let end = format!("\n% Unknown command: {marker}\n");
    let at = buf.windows(end.len()).position(|w| w == end.as_bytes())?;
    let answer = String::from_utf8_lossy(&buf[..at + 1]).into_owned();
    buf.drain(..at + end.len());
    Some(answer)
}

/// A one-line command's output: its answer without the echoed command
/// line and the trailing prompt and marker.
pub fn output(answer: &str) -> &str {
    let body = answer.split_once('\n').map_or("", |(_, rest)| rest);
    let body = body.strip_suffix('\n').unwrap_or(body);
    body.rfind('\n').map_or("", |i| &body[..=i])
}

/// Lines of vtysh's that are not errors of the commands sent.
pub fn is_benign(line: &str) -> bool {
    line.contains("Can't open configuration file")
}

/// Lines saying vtysh lost or regained a daemon (it restarted, or is not
/// running): the answer next to them cannot be trusted, and vtysh is best
/// started afresh. (Its standard error is merged into the answer.)
pub fn disturbance(answer: &str) -> Option<&str> {
    answer
        .lines()
        .find(|l| l.starts_with("Warning: ") || l.ends_with(" is not running"))
}

/// The lines of an answer where FRR refused a command. vtysh exits 0 and
/// goes on with the next line whatever happens, so these are the only sign.
pub fn rejected(answer: &str) -> Vec<&str> {
    answer
        .lines()
        .filter(|l| l.starts_with('%') && !is_benign(l))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // What vtysh 8.4 printed in the lab for `framed(&["show ip ospf
    // neighbor json", "configure terminal\nfoo\nend"], 4)`.
    const SEEN: &str = "vm# show ip ospf neighbor json\n{\n  \"neighbors\":{\n  }\n}\nvm# vpcroute-sync-mark-4\n% Unknown command: vpcroute-sync-mark-4\nvm# configure terminal\nvm(config)# foo\n% Unknown command: foo\nvm(config)# end\nvm# vpcroute-sync-mark-5\n% Unknown command: vpcroute-sync-mark-5\nvm# ";

    #[test]
    fn answers_are_split_at_the_markers() {
        assert_eq!(
            framed(&["show x", "configure terminal\nend\n"], 4),
            "show x\nvpcroute-sync-mark-4\nconfigure terminal\nend\nvpcroute-sync-mark-5\n"
        );
        let mut buf = SEEN.as_bytes().to_vec();
        assert_eq!(take_answer(&mut buf, &marker(6)), None);
        let show = take_answer(&mut buf, &marker(4)).unwrap();
        assert_eq!(output(&show), "{\n  \"neighbors\":{\n  }\n}\n");
        assert!(rejected(&show).is_empty());
        let conf = take_answer(&mut buf, &marker(5)).unwrap();
        assert_eq!(rejected(&conf), vec!["% Unknown command: foo"]);
        assert_eq!(buf, b"vm# ");
        assert_eq!(disturbance(&conf), None);
    }

    #[test]
    fn partial_answers_wait() {
        let mut buf = b"vm# show x\nout\nvm# vpcroute-sync-mark-1\n% Unknown comm".to_vec();
        assert_eq!(take_answer(&mut buf, &marker(1)), None);
        buf.extend_from_slice(b"and: vpcroute-sync-mark-1\n");
        assert_eq!(output(&take_answer(&mut buf, &marker(1)).unwrap()), "out\n");
        // mark-1 must not be taken for mark-10
        let mut buf =
            b"x\nvm# vpcroute-sync-mark-10\n% Unknown command: vpcroute-sync-mark-10\n".to_vec();
        assert_eq!(take_answer(&mut buf, &marker(1)), None);
    }

    #[test]
    fn a_restarted_daemon_is_noticed() {
        let a = "vm# show ip ospf neighbor json\nWarning: closing connection to ospfd because of an I/O error!\nWarning: connecting to ospfd...success!\n{\n}\nvm# vpcroute-sync-mark-2\n";
        assert!(disturbance(a).unwrap().contains("closing connection"));
        assert!(disturbance("x\nospfd is not running\n").is_some());
    }
}
