//! Text read from outside (the Console's JSON, S3 names and tags, Cost Explorer's tag values, a
//! peer's error body) made harmless for the place it lands: one function per sink. Nothing here
//! knows where a text came from; every output that shows such text calls the function of its
//! sink, and the tests feed each one hostile names.

use std::borrow::Cow;
use std::fmt::Write;

/// Characters a terminal or a log reader acts on: C0 and C1 controls (newline, ESC, BEL, ...),
/// DEL, the line and paragraph separators, and the bidirectional controls that reorder what
/// follows on the line.
fn acts(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// For a terminal, a text log or any line of plain text: each character a terminal would act on
/// written as its escape (`\n`, `\u{1b}`), so a name cannot start a line, clear the screen,
/// retitle the window or reorder the line. Everything else, any script included, is kept.
pub fn terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(acts) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if acts(c) {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A name read from outside, quoted for a message (`"..."`, escaped as Rust's `Debug` does),
/// cut to `max` characters with the length said: a 5,000-character name stays one short line.
pub fn quoted(s: &str, max: usize) -> String {
    let n = s.chars().count();
    let q = if n > max {
        format!("{:?}… ({n} characters)", s.chars().take(max).collect::<String>())
    } else {
        format!("{s:?}")
    };
    terminal(&q).into_owned()
}

/// For Slack's mrkdwn (a message's text, a section, a field): `&`, `<` and `>` as the entities
/// Slack documents, so no mention (`<!channel>`, `<@U123>`) and no link (`<url|text>`) can be
/// formed from a name; controls as for a terminal.
pub fn mrkdwn(s: &str) -> Cow<'_, str> {
    let s = terminal(s);
    if !s.contains(['&', '<', '>']) {
        return s;
    }
    Cow::Owned(s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"))
}

/// For a cell of a Markdown table (coverage.md): controls as for a terminal, the characters
/// Markdown reads as markup backslash-escaped, and HTML's `<`, `>` and `&` as entities, so a
/// name can neither end the cell, nor become a link, an image, emphasis or raw HTML.
pub fn markdown(s: &str) -> Cow<'_, str> {
    let s = terminal(s);
    // `(`, `#` and `!` need `[` or a line's start to mean anything: neither can occur in a cell.
    const MARKUP: &[char] = &['\\', '|', '`', '*', '_', '[', ']', '~', '<', '>', '&'];
    if !s.contains(MARKUP) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c if MARKUP.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// For a cell of a CSV file or a workbook: controls as for a terminal; a text that a
/// spreadsheet would read as a formula (`=`, `+`, `-`, `@` first) kept as text by a leading
/// apostrophe; at most the 32,767 characters a cell holds.
pub fn spreadsheet(s: &str) -> Cow<'_, str> {
    const CELL: usize = 32_767;
    let mut s = terminal(s);
    if s.len() > 1 && s.starts_with(['=', '+', '-', '@']) {
        s = Cow::Owned(format!("'{s}"));
    }
    if s.chars().count() > CELL {
        s = Cow::Owned(s.chars().take(CELL).collect());
    }
    s
}

/// Whether CloudWatch accepts `v` as a dimension value (API reference, Dimension): 1 to 1,024
/// characters, ASCII only, no control characters, at least one that is not whitespace. A
/// value it refuses fails the whole PutMetricData request it is in, so the sink checks first.
pub fn dimension_value(v: &str) -> Result<(), String> {
    let shown = || terminal(&v.chars().take(60).collect::<String>()).into_owned();
    let more = if v.chars().count() > 60 { "..." } else { "" };
    if v.is_empty() || v.len() > 1024 {
        return Err(format!("{:?}{more} is {} characters; CloudWatch takes 1 to 1,024", shown(), v.len()));
    }
    if !v.is_ascii() || v.chars().any(|c| c.is_ascii_control()) {
        return Err(format!("{:?}{more} holds non-ASCII or control characters, which CloudWatch refuses", shown()));
    }
    if v.trim().is_empty() {
        return Err("a value of whitespace only, which CloudWatch refuses".into());
    }
    Ok(())
}

/// Percent-encodes `s` for one path segment or query value of a URL we build (a link in a
/// message): only unreserved characters stay as they are.
pub fn url_part(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "a\nb\x1b[2J\x1b]0;title\x07\u{202E}c\r\td";

    #[test]
    fn terminal_escapes_what_a_terminal_acts_on_and_keeps_the_rest() {
        assert_eq!(terminal(HOSTILE), "a\\nb\\u{1b}[2J\\u{1b}]0;title\\u{7}\\u{202e}c\\r\\td");
        assert!(matches!(terminal("uploads-prod"), Cow::Borrowed(_)));
        assert_eq!(terminal("équipe-東京 x"), "équipe-東京 x");
        assert_eq!(terminal("\u{9b}31m"), "\\u{9b}31m", "C1 CSI");
    }

    #[test]
    fn quoted_names_are_one_short_line() {
        assert_eq!(quoted("a\nb\u{202E}", 10), "\"a\\nb\\u{202e}\"");
        assert_eq!(quoted(&"x".repeat(5000), 4), "\"xxxx\"… (5000 characters)");
    }

    #[test]
    fn mrkdwn_forms_no_mention_or_link() {
        let evil = "<!channel> <https://evil.example/login|Click> & co";
        assert_eq!(mrkdwn(evil), "&lt;!channel&gt; &lt;https://evil.example/login|Click&gt; &amp; co");
        assert_eq!(mrkdwn("a\nb"), "a\\nb");
    }

    #[test]
    fn markdown_cells_hold_no_markup() {
        assert_eq!(markdown("a|b"), "a\\|b");
        assert_eq!(markdown("[x](https://e.example)"), "\\[x\\](https://e.example)");
        assert_eq!(markdown("<img src=x>"), "&lt;img src=x&gt;");
        assert_eq!(markdown("my_bucket"), "my\\_bucket");
        assert_eq!(markdown("x\ny"), "x\\\\ny", "shown as x\\ny");
    }

    #[test]
    fn spreadsheet_cells_hold_no_formula() {
        assert_eq!(spreadsheet("=HYPERLINK(\"https://e.example\")"), "'=HYPERLINK(\"https://e.example\")");
        assert_eq!(spreadsheet("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(spreadsheet("-"), "-", "a lone dash is no formula");
        assert_eq!(spreadsheet("media"), "media");
        assert_eq!(spreadsheet(&"x".repeat(40_000)).len(), 32_767);
    }

    #[test]
    fn dimension_values_within_cloudwatch_limits() {
        assert!(dimension_value("uploads-prod").is_ok());
        assert!(dimension_value(&"a".repeat(1024)).is_ok());
        let long = dimension_value(&"a".repeat(5000)).unwrap_err();
        assert!(long.contains("5000 characters; CloudWatch takes 1 to 1,024"), "{long}");
        assert!(dimension_value("").is_err());
        assert!(dimension_value("   ").is_err());
        assert!(dimension_value("a\x1bb").unwrap_err().contains("\\u{1b}"));
        assert!(dimension_value("équipe").is_err());
    }

    #[test]
    fn url_parts_cannot_break_out() {
        assert_eq!(url_part("a b/c?d#e|f>g"), "a%20b%2Fc%3Fd%23e%7Cf%3Eg");
    }
}
