//! The commands an operator gives router-sync per router (`--router`,
//! `--nft`): one shell-like line, split into argv once, never through a
//! shell.

/// The argv of `command`, the line that runs a router's `what` (`vtysh`,
/// `nft`).
pub fn argv(what: &str, command: &str) -> Result<Vec<String>, String> {
    let argv = shell_words::split(command).map_err(|e| format!("bad {what} command: {e}"))?;
    if argv.is_empty() {
        return Err(format!("empty {what} command"));
    }
    Ok(argv)
}

#[cfg(test)]
mod tests {
    use super::argv;

    #[test]
    fn splits_like_a_shell_and_refuses_empty_or_unbalanced_lines() {
        assert_eq!(
            argv("nft", "ip netns exec 'vpcr left' nft").unwrap(),
            ["ip", "netns", "exec", "vpcr left", "nft"]
        );
        assert_eq!(argv("nft", "  ").unwrap_err(), "empty nft command");
        assert!(argv("vtysh", "vtysh 'open")
            .unwrap_err()
            .starts_with("bad vtysh command"));
    }
}
