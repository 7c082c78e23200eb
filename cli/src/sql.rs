//! `tapio sql`: query the stored history.

use std::io::Write;

use anyhow::Context;
use arrow::util::pretty::pretty_format_batches;
use tapio_engine::store::DataDir;

use crate::Format;

pub async fn run(data_dir: &str, query: &str, format: Format) -> anyhow::Result<()> {
    let dd = DataDir::open(data_dir).with_context(|| format!("opening data dir {data_dir}"))?;
    let batches = tapio_engine::sql::query(&dd, query).await?;
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    match format {
        // An empty result prints as `++` otherwise.
        Format::Table if batches.iter().all(|b| b.num_rows() == 0) => writeln!(w, "(no rows)")?,
        Format::Table => writeln!(w, "{}", pretty_format_batches(&batches)?)?,
        Format::Json => {
            let mut jw = arrow::json::LineDelimitedWriter::new(&mut w);
            for b in &batches {
                jw.write(b)?;
            }
            jw.finish()?;
        }
        Format::Csv => {
            let mut cw = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut w);
            for b in &batches {
                cw.write(b).context("CSV cannot hold nested columns (lists, structs): select scalar columns or use --format json")?;
            }
        }
    }
    w.flush()?;
    Ok(())
}
