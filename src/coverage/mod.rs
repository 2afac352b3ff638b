//! `costwarden coverage`: the coverage inventory (read and classified by
//! `sources::coverage`) rendered as the Markdown page, the per-team workbooks, CSV and JSON,
//! and `--check`'s comparison with the committed page.

pub mod render;

pub use crate::sources::coverage::*;
