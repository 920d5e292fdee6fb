//! Command text made safe for logs and events: OSPF keys replaced.

/// Replaces the key of `ip ospf message-digest-key N md5 KEY` and
/// `ip ospf authentication-key KEY` (and their `no` forms) with `***`.
pub fn redact_line(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        out.push(words[i]);
        let secret_follows = words[i] == "authentication-key"
            || (words[i] == "md5" && i >= 2 && words[i - 2] == "message-digest-key");
        if secret_follows && i + 1 < words.len() {
            out.push("***");
            i += 2;
            continue;
        }
        i += 1;
    }
    out.join(" ")
}

/// A whole script, line by line.
pub fn redact_script(script: &str) -> String {
    script
        .lines()
        .map(redact_line)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_replaced() {
        assert_eq!(
            redact_line(" ip ospf message-digest-key 7 md5 s3cr3t!"),
            "ip ospf message-digest-key 7 md5 ***"
        );
        assert_eq!(
            redact_line("no ip ospf authentication-key abc"),
            "no ip ospf authentication-key ***"
        );
        assert_eq!(redact_line("ip ospf area 0.0.0.5"), "ip ospf area 0.0.0.5");
        assert!(!redact_script("a\nip ospf message-digest-key 1 md5 KEYKEY\n").contains("KEYKEY"));
    }
}
