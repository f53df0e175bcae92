//! Plain-text tables fitted to the terminal: text left, numbers right, two spaces between
//! columns. When a table is too wide, text columns that may shrink are cut (with `…`) down to
//! their minimum, then the least useful columns are dropped; a row is never wrapped. Should the
//! columns that must stay still not fit, lines are cut at the width.

use std::fmt::Write as _;

use crate::term::{Color, Paint, text_width, truncate};

const GAP: &str = "  ";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// One column's header and how it gives way on a narrow terminal.
#[derive(Debug, Clone)]
pub struct Column {
    header: String,
    align: Align,
    /// `None`: always shown. `Some(n)`: dropped when too wide, lowest `n` first.
    drop_rank: Option<u8>,
    /// Cells may be cut down to this width before anything is dropped.
    shrink_to: Option<usize>,
}

impl Column {
    pub fn left(header: &str) -> Self {
        Self {
            header: header.to_owned(),
            align: Align::Left,
            drop_rank: None,
            shrink_to: None,
        }
    }

    pub fn right(header: &str) -> Self {
        Self {
            align: Align::Right,
            ..Self::left(header)
        }
    }

    /// May be dropped on a narrow terminal; columns with a lower rank go first.
    pub fn optional(mut self, rank: u8) -> Self {
        self.drop_rank = Some(rank);
        self
    }

    /// May be cut to `width` columns (text, not numbers).
    pub fn shrink_to(mut self, width: usize) -> Self {
        self.shrink_to = Some(width);
        self
    }
}

/// A table being built.
#[derive(Debug, Clone)]
pub struct Table {
    columns: Vec<Column>,
    rows: Vec<(Vec<String>, Option<Color>)>,
}

impl Table {
    pub fn new(columns: Vec<Column>) -> Self {
        Self {
            columns,
            rows: Vec::new(),
        }
    }

    /// A row; missing cells are empty, extra cells ignored.
    pub fn row(&mut self, cells: Vec<String>) {
        self.row_colored(cells, None);
    }

    /// A row shown in `color` (when colour is on).
    pub fn row_colored(&mut self, cells: Vec<String>, color: Option<Color>) {
        self.rows.push((cells, color));
    }

    fn cell(&self, row: usize, column: usize) -> &str {
        self.rows[row].0.get(column).map_or("", String::as_str)
    }

    /// Which columns are shown, and how wide each is, for a line of `width` columns.
    pub fn layout(&self, width: usize) -> Vec<(usize, usize)> {
        let natural: Vec<usize> = (0..self.columns.len())
            .map(|c| {
                (0..self.rows.len())
                    .map(|r| text_width(self.cell(r, c)))
                    .chain(std::iter::once(text_width(&self.columns[c].header)))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let total = |shown: &[(usize, usize)]| -> usize {
            shown.iter().map(|(_, w)| w).sum::<usize>() + GAP.len() * shown.len().saturating_sub(1)
        };
        let mut kept: Vec<usize> = (0..self.columns.len()).collect();
        loop {
            // Text columns give up what is needed, no further than their minimum...
            let mut shown: Vec<(usize, usize)> = kept.iter().map(|&c| (c, natural[c])).collect();
            for i in 0..shown.len() {
                let excess = total(&shown).saturating_sub(width);
                let (c, w) = shown[i];
                if let (true, Some(min)) = (excess > 0, self.columns[c].shrink_to) {
                    shown[i].1 = w.saturating_sub(excess).max(min).min(w);
                }
            }
            if total(&shown) <= width {
                return shown;
            }
            // ...and when that is not enough, the optional column ranked lowest goes.
            let victim = kept
                .iter()
                .enumerate()
                .filter_map(|(i, &c)| self.columns[c].drop_rank.map(|rank| (rank, i)))
                .min();
            match victim {
                Some((_, i)) => {
                    kept.remove(i);
                }
                None => return shown,
            }
        }
    }

    /// The table as lines fitted to `width`, the header in bold.
    pub fn render(&self, width: usize, paint: Paint) -> String {
        let layout = self.layout(width);
        let headers: Vec<&str> = self.columns.iter().map(|c| c.header.as_str()).collect();
        let mut out = String::new();
        let header_line = self.line(&layout, |c| headers[c], width);
        if !header_line.is_empty() {
            let _ = writeln!(out, "{}", paint.paint(Color::Bold, &header_line));
        }
        for (r, (_, color)) in self.rows.iter().enumerate() {
            let line = self.line(&layout, |c| self.cell(r, c), width);
            let _ = writeln!(out, "{}", paint.maybe(*color, &line));
        }
        out
    }

    fn line<'a>(
        &self,
        layout: &[(usize, usize)],
        cell: impl Fn(usize) -> &'a str,
        width: usize,
    ) -> String {
        let mut line = String::new();
        for (i, &(c, w)) in layout.iter().enumerate() {
            if i > 0 {
                line.push_str(GAP);
            }
            let text = truncate(cell(c), w);
            let pad = w.saturating_sub(text_width(&text));
            match self.columns[c].align {
                Align::Left => {
                    line.push_str(&text);
                    line.extend(std::iter::repeat_n(' ', pad));
                }
                Align::Right => {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(&text);
                }
            }
        }
        truncate(line.trim_end(), width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs_table() -> Table {
        let mut table = Table::new(vec![
            Column::left("DATE"),
            Column::right("DISTANCE"),
            Column::right("TIME").optional(3),
            Column::right("PACE").optional(4),
            Column::right("HR").optional(1),
            Column::right("TEMP").optional(0),
            Column::left("NOTE").optional(2).shrink_to(4),
        ]);
        table.row(vec![
            "2026-03-01".into(),
            "3.11 mi".into(),
            "26:10".into(),
            "8:25 /mi".into(),
            "148".into(),
            "41°F".into(),
            "treadmill after work".into(),
        ]);
        table.row(vec![
            "2026-02-28".into(),
            "13.11 mi".into(),
            "1:52:07".into(),
            "8:33 /mi".into(),
            "—".into(),
        ]);
        table
    }

    fn shown_headers(table: &Table, width: usize) -> Vec<String> {
        table
            .render(width, Paint::plain())
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn wide_terminals_show_everything_aligned() {
        let text = runs_table().render(120, Paint::plain());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "DATE        DISTANCE     TIME      PACE   HR  TEMP  NOTE"
        );
        assert_eq!(
            lines[1],
            "2026-03-01   3.11 mi    26:10  8:25 /mi  148  41°F  treadmill after work"
        );
        // Missing cells are blank, and trailing blanks trimmed.
        assert_eq!(lines[2], "2026-02-28  13.11 mi  1:52:07  8:33 /mi    —");
    }

    #[test]
    fn narrow_terminals_shrink_text_then_drop_columns_in_rank_order() {
        let table = runs_table();
        let full = 72;
        assert_eq!(shown_headers(&table, full).len(), 7);
        // Text shrinks before anything is dropped.
        let text = table.render(60, Paint::plain());
        assert_eq!(shown_headers(&table, 60).len(), 7);
        assert!(
            text.contains("2026-03-01   3.11 mi    26:10  8:25 /mi  148  41°F  treadmi…\n"),
            "{text}"
        );
        // Then TEMP, HR, NOTE, TIME, PACE go, in that order.
        assert_eq!(
            shown_headers(&table, 54),
            ["DATE", "DISTANCE", "TIME", "PACE", "HR", "NOTE"]
        );
        assert_eq!(
            shown_headers(&table, 48),
            ["DATE", "DISTANCE", "TIME", "PACE", "NOTE"]
        );
        assert_eq!(
            shown_headers(&table, 40),
            ["DATE", "DISTANCE", "TIME", "PACE"]
        );
        assert_eq!(shown_headers(&table, 30), ["DATE", "DISTANCE", "PACE"]);
        assert_eq!(shown_headers(&table, 20), ["DATE", "DISTANCE"]);
        for width in 20..=120 {
            for line in table.render(width, Paint::plain()).lines() {
                assert!(text_width(line) <= width, "{width}: {line:?}");
            }
        }
    }

    #[test]
    fn rows_are_cut_not_wrapped_when_even_the_kept_columns_do_not_fit() {
        let text = runs_table().render(15, Paint::plain());
        for line in text.lines() {
            assert_eq!(text_width(line), 15, "{line:?}");
            assert!(line.ends_with('…'), "{line:?}");
        }
        assert_eq!(text.lines().count(), 3);
    }

    #[test]
    fn colour_wraps_whole_lines_after_fitting() {
        let mut table = Table::new(vec![Column::left("A"), Column::right("B")]);
        table.row_colored(vec!["x".into(), "1".into()], Some(Color::Green));
        let text = table.render(80, Paint::new(true));
        assert_eq!(text, "\x1b[1mA  B\x1b[0m\n\x1b[32mx  1\x1b[0m\n");
    }
}
