//! Golden-file diffs: the shared one from `vpcroute-testkit`.

pub use vpcroute_testkit::line_diff;
