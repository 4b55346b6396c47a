//! Column-aligned text tables, and indented text, for the demo's output.

/// A row of cells, or a free line under the previous row that does not widen any column.
#[derive(Debug, Clone)]
enum Line {
    Cells(Vec<String>),
    Note(String),
}

/// A table with a header row; every column as wide as its widest cell.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    lines: Vec<Line>,
}

impl Table {
    pub fn new<const N: usize>(header: [&str; N]) -> Table {
        Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            lines: Vec::new(),
        }
    }

    /// Adds a row; missing cells print empty, extra cells are kept.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.lines
            .push(Line::Cells(cells.into_iter().map(Into::into).collect()));
    }

    /// Adds a free line (indented by two more spaces) under the last row.
    pub fn note(&mut self, text: impl Into<String>) {
        self.lines.push(Line::Note(text.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    fn rows(&self) -> impl Iterator<Item = &Vec<String>> {
        std::iter::once(&self.header).chain(self.lines.iter().filter_map(|l| match l {
            Line::Cells(cells) => Some(cells),
            Line::Note(_) => None,
        }))
    }

    /// Renders with `indent` before every line and two spaces between columns; trailing spaces
    /// are trimmed.
    pub fn render(&self, indent: &str) -> String {
        let columns = self.rows().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0; columns];
        for row in self.rows() {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let cells = |row: &Vec<String>| {
            let mut line = indent.to_owned();
            for (i, width) in widths.iter().enumerate() {
                let cell = row.get(i).map_or("", String::as_str);
                line.push_str(cell);
                let pad = width - cell.chars().count();
                line.extend(std::iter::repeat_n(' ', pad + 2));
            }
            format!("{}\n", line.trim_end())
        };
        let mut out = cells(&self.header);
        for line in &self.lines {
            match line {
                Line::Cells(row) => out.push_str(&cells(row)),
                Line::Note(text) => out.push_str(&format!("{indent}  {text}\n")),
            }
        }
        out
    }
}

/// Indents every line by two spaces, as step details nest text under a heading.
pub(crate) fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_to_the_widest_cell_and_notes_do_not_widen_them() {
        let mut t = Table::new(["image", "size"]);
        t.row(["csi-vol-1", "2 GiB"]);
        t.note("└ a note much longer than any column of the table");
        t.row(["x", "1 GiB", "extra"]);
        assert_eq!(
            t.render("  "),
            "  image      size\n  csi-vol-1  2 GiB\n    └ a note much longer than any column of the table\n  x          1 GiB  extra\n"
        );
        assert!(!t.is_empty());
        assert!(Table::new(["a"]).is_empty());
    }
}
