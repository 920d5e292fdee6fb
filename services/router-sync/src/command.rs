//! The commands an operator gives router-sync per router (`--router`,
//! `--nft`): one shell-like line, split into argv once, never through a
//! shell, and started without our own environment variables.

/// The argv of `command`, the line that runs a router's `what` (`vtysh`,
/// `nft`).
pub fn argv(what: &str, command: &str) -> Result<Vec<String>, String> {
    let argv = shell_words::split(command).map_err(|e| format!("bad {what} command: {e}"))?;
    if argv.is_empty() {
        return Err(format!("empty {what} command"));
    }
    Ok(argv)
}

/// What every variable of ours starts with.
const OUR_ENV_PREFIX: &str = "VPCROUTE_";

/// The child process for `argv` (from [`argv`]), with every `VPCROUTE_*`
/// variable removed from its environment. Some hold secrets
/// (`VPCROUTE_NATS_PASSWORD`), and vtysh, nft or an ssh in front of them
/// need none of ours: clearing them all, rather than a list of the secret
/// ones, keeps a secret added later out too. The rest (`PATH`, ...) is
/// inherited, as the operator's command may need it.
pub fn child(argv: &[String]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with(OUR_ENV_PREFIX) {
            cmd.env_remove(name);
        }
    }
    cmd
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
