//! Output: an aligned two-column table for people, or the report as JSON for scripts.

use std::io::Write;

use serde::Serialize;

use crate::args::Output;
use crate::error::Result;

/// Rows of `section`, `field`, `value`; a section's name is printed once above its rows.
#[derive(Default)]
pub struct Table {
    rows: Vec<(String, String, String)>,
}

impl Table {
    pub fn row(&mut self, section: &str, field: impl Into<String>, value: impl ToString) {
        self.rows
            .push((section.to_owned(), field.into(), value.to_string()));
    }

    pub fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        let width = self.rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
        let mut last: Option<&str> = None;
        for (section, field, value) in &self.rows {
            if last != Some(section) {
                writeln!(out, "{section}")?;
                last = Some(section);
            }
            writeln!(out, "  {field:<width$}  {value}")?;
        }
        Ok(())
    }
}

/// Prints `report` as `output` asks: JSON, or the table `table` makes of it.
pub fn print<T: Serialize>(output: Output, report: &T, table: impl Fn(&T) -> Table) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match output {
        Output::Json => {
            serde_json::to_writer_pretty(&mut out, report).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Output::Table => table(report).write(&mut out)?,
    }
    Ok(())
}
