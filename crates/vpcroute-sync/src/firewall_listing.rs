//! Comparing a router's nftables listing with the wanted one.

/// The first line where a router's listing differs from the wanted one, for
/// an error message an operator can act on.
pub fn first_difference(want: &str, got: &str) -> String {
    let mut w = want.lines();
    let mut g = got.lines();
    for n in 1.. {
        match (w.next(), g.next()) {
            (None, None) => return "none".into(),
            (a, b) if a == b => continue,
            (a, b) => {
                let clip = |l: Option<&str>| {
                    vpcroute_protocol::error::clip(l.unwrap_or("(end)").trim(), 120).into_owned()
                };
                return format!("line {n}: want {:?}, router has {:?}", clip(a), clip(b));
            }
        }
    }
    unreachable!()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_difference_names_the_line() {
        assert_eq!(first_difference("a\nb\n", "a\nb\n"), "none");
        assert_eq!(
            first_difference("a\nb\n", "a\nc\n"),
            "line 2: want \"b\", router has \"c\""
        );
        assert_eq!(
            first_difference("a\n", "a\nextra\n"),
            "line 2: want \"(end)\", router has \"extra\""
        );
    }
}
