//! The terminal: whether to colour, how wide a line may be, and the few colours used.

use std::ffi::OsString;

/// `--color`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// Whether to colour: `always` and `never` say so; `auto` colours a terminal unless `NO_COLOR`
/// is set to anything but the empty string (<https://no-color.org>).
pub fn color_enabled(
    choice: ColorChoice,
    stdout_is_terminal: bool,
    no_color: Option<OsString>,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stdout_is_terminal && no_color.is_none_or(|v| v.is_empty()),
    }
}

/// Narrowest width tables are fitted to; below it lines are cut.
pub const MIN_WIDTH: usize = 20;

/// Width used when neither `COLUMNS` nor the terminal says.
pub const DEFAULT_WIDTH: usize = 80;

/// The line width: `COLUMNS` when it is a number (so it can be fixed in scripts and tests), else
/// the terminal's width (see [`terminal_width`]), else 80.
pub fn width(columns: Option<&str>, terminal: Option<usize>) -> usize {
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&w| w > 0)
        .or(terminal.filter(|&w| w > 0))
        .unwrap_or(DEFAULT_WIDTH)
        .max(MIN_WIDTH)
}

/// The width of the terminal the output ends up on: stdout's, else (when piped into `head` or
/// `less`) stderr's, if either is a terminal.
pub fn terminal_width() -> Option<usize> {
    terminal_size::terminal_size_of(std::io::stdout())
        .or_else(|| terminal_size::terminal_size_of(std::io::stderr()))
        .map(|(terminal_size::Width(w), _)| usize::from(w))
}

/// ANSI colours, or nothing when colour is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paint {
    enabled: bool,
}

/// The styles used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Bold,
    Dim,
    Red,
    Green,
    Yellow,
    Magenta,
    Cyan,
}

impl Color {
    fn code(self) -> &'static str {
        match self {
            Self::Bold => "1",
            Self::Dim => "2",
            Self::Red => "1;31",
            Self::Green => "32",
            Self::Yellow => "33",
            Self::Magenta => "1;35",
            Self::Cyan => "36",
        }
    }
}

impl Paint {
    pub fn new(enabled: bool) -> Self {
        Self { enabled }
    }

    /// No colour at all.
    pub fn plain() -> Self {
        Self::new(false)
    }

    pub fn enabled(self) -> bool {
        self.enabled
    }

    /// `text` in `color`; unchanged when colour is off or the text is empty.
    pub fn paint(self, color: Color, text: &str) -> String {
        if self.enabled && !text.is_empty() {
            format!("\x1b[{}m{text}\x1b[0m", color.code())
        } else {
            text.to_owned()
        }
    }

    /// [`Paint::paint`] when `color` is given.
    pub fn maybe(self, color: Option<Color>, text: &str) -> String {
        match color {
            Some(color) => self.paint(color, text),
            None => text.to_owned(),
        }
    }
}

/// Columns a string takes. Everything `stk` prints is one column per character (ASCII, `—`, `°`,
/// box drawing); text from the server is cleaned of control characters first.
pub fn text_width(text: &str) -> usize {
    text.chars().count()
}

/// `text` cut to `width` columns, ending with `…` when something was cut.
pub fn truncate(text: &str, width: usize) -> String {
    if text_width(text) <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_for_terminals_without_no_color() {
        assert!(color_enabled(ColorChoice::Auto, true, None));
        assert!(!color_enabled(ColorChoice::Auto, false, None));
        assert!(!color_enabled(ColorChoice::Auto, true, Some("1".into())));
        // An empty NO_COLOR does not count.
        assert!(color_enabled(ColorChoice::Auto, true, Some("".into())));
        assert!(color_enabled(ColorChoice::Always, false, Some("1".into())));
        assert!(!color_enabled(ColorChoice::Never, true, None));
    }

    #[test]
    fn width_from_columns_then_terminal_then_80() {
        assert_eq!(width(Some("100"), Some(120)), 100);
        assert_eq!(width(Some(" 132 "), None), 132);
        assert_eq!(width(Some("wide"), Some(120)), 120);
        assert_eq!(width(Some("0"), None), DEFAULT_WIDTH);
        assert_eq!(width(None, None), DEFAULT_WIDTH);
        assert_eq!(width(None, Some(0)), DEFAULT_WIDTH);
        assert_eq!(width(Some("5"), None), MIN_WIDTH);
    }

    #[test]
    fn paint_wraps_only_when_enabled() {
        assert_eq!(Paint::plain().paint(Color::Bold, "x"), "x");
        assert_eq!(Paint::new(true).paint(Color::Bold, "x"), "\x1b[1mx\x1b[0m");
        assert_eq!(Paint::new(true).paint(Color::Bold, ""), "");
        assert_eq!(Paint::new(true).maybe(None, "x"), "x");
    }

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate("2026-03-01", 10), "2026-03-01");
        assert_eq!(truncate("Europe/Paris", 8), "Europe/…");
        assert_eq!(truncate("—", 1), "—");
        assert_eq!(truncate("abc", 0), "");
    }
}
