//! The `tapio` command: replay a capture into stories, and query the stored history.

mod render;
mod replay;
mod sql;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

/// Tapio turns Kubernetes, kernel and node signals into a few clear incident stories.
#[derive(Parser, Debug)]
#[command(name = "tapio", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How stories are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// For people: title, root cause, impact, timeline, what to do.
    Text,
    /// One JSON story per line, for machines.
    Json,
    /// Nothing (for measuring).
    None,
}

/// How query results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned table.
    Table,
    /// JSON lines.
    Json,
    /// CSV with a header.
    Csv,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Replay a capture (files or folders: kubectl JSON/YAML dumps, cluster-info dump
    /// folders, journalctl -o json, kernel logs, Tapio files) into stories.
    Replay {
        /// Files or folders to read.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// How to print stories.
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
        /// Where history is stored: a path, file:// or s3://bucket/prefix URL.
        #[arg(long, env = "TAPIO_DATA_DIR", default_value = "tapio-data")]
        data_dir: String,
        /// Do not write history.
        #[arg(long)]
        no_store: bool,
        /// Cluster name for input that does not name one.
        #[arg(long, env = "TAPIO_CLUSTER", default_value = "default")]
        cluster: String,
        /// Year for log lines without one (syslog, journalctl -k); default: from the capture.
        #[arg(long)]
        year: Option<i16>,
        /// Engine window size in seconds (event time).
        #[arg(long, default_value_t = 60)]
        window_secs: i64,
        /// Seconds without new evidence after which an incident's story is closed.
        #[arg(long, default_value_t = 900)]
        idle_timeout_secs: i64,
    },
    /// Run SQL over the stored history: tables events, correlations, topology, stories.
    Sql {
        /// The query.
        query: String,
        /// Where history is stored.
        #[arg(long, env = "TAPIO_DATA_DIR", default_value = "tapio-data")]
        data_dir: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("TAPIO_LOG").unwrap_or_else(|_| EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match cli.command {
            Command::Replay {
                paths,
                output,
                data_dir,
                no_store,
                cluster,
                year,
                window_secs,
                idle_timeout_secs,
            } => {
                let opts = replay::Options {
                    paths,
                    output,
                    data_dir: (!no_store).then_some(data_dir),
                    cluster,
                    year,
                    window_secs,
                    idle_timeout_secs,
                };
                replay::run(opts).await
            }
            Command::Sql {
                query,
                data_dir,
                format,
            } => sql::run(&data_dir, &query, format).await,
        }
    })
}
