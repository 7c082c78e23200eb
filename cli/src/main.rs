//! The `tapio` command: replay a capture into stories, and query the stored history.

mod collect;
mod generate;
mod impact;
mod live;
mod render;
mod replay;
mod run;
mod sql;
mod stream;

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
        #[command(flatten)]
        store: StoreArgs,
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
        /// Publish the capture to Kafka (kafka://HOST:PORT) instead of telling its
        /// stories here: a running `tapio run --source kafka://…` tells them.
        #[arg(long)]
        sink: Option<String>,
        /// Score the stories against ground-truth labels (`tapio generate` writes them).
        #[arg(long)]
        labels: Option<PathBuf>,
        #[command(flatten)]
        kafka: KafkaArgs,
    },
    /// Run live collectors and print their events as they happen (Ctrl-C stops).
    Collect {
        /// Collectors to run: ebpf, kubernetes.
        #[arg(long, value_delimiter = ',', default_value = "ebpf")]
        collectors: Vec<String>,
        /// How to print events.
        #[arg(long, value_enum, default_value = "text")]
        output: collect::EventOutput,
        #[command(flatten)]
        live: LiveArgs,
    },
    /// Run live collectors into the streaming engine in this process and print stories
    /// as incidents close (Ctrl-C or SIGTERM drains and stops).
    Run {
        /// Collectors to run: ebpf, kubernetes.
        #[arg(long, value_delimiter = ',', default_value = "ebpf")]
        collectors: Vec<String>,
        /// How to print stories.
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
        #[command(flatten)]
        store: StoreArgs,
        /// Engine window size in seconds.
        #[arg(long, default_value_t = 10)]
        window_secs: i64,
        /// Seconds without new evidence after which an incident's story is printed.
        #[arg(long, default_value_t = 120)]
        idle_timeout_secs: i64,
        /// Where events come from: the live collectors in this process (default), or
        /// Kafka's events topic as a member of a consumer group (kafka://HOST:PORT).
        #[arg(long)]
        source: Option<String>,
        /// Send the collectors' events to Kafka (kafka://HOST:PORT) instead of running
        /// the engine here (a node agent feeding a central `--source kafka://…`).
        #[arg(long, conflicts_with = "source")]
        sink: Option<String>,
        /// Consumer group of `--source kafka://…`: instances in one group share the
        /// partitions.
        #[arg(long, default_value = "tapio")]
        group: String,
        /// With `--source kafka://…`: how often history is written and offsets committed.
        #[arg(long, default_value_t = 5)]
        commit_secs: u64,
        #[command(flatten)]
        kafka: KafkaArgs,
        #[command(flatten)]
        live: LiveArgs,
    },
    /// Generate a synthetic capture: a cluster with routine churn and injected incidents
    /// (seeded, deterministic), plus the ground truth to score stories against.
    Generate {
        /// Seed: the same seed and settings give the same files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Kubernetes Events in total.
        #[arg(long, default_value_t = 10_000)]
        events: usize,
        /// Incidents to inject (oom-killed, crashloop, image-pull, config-missing,
        /// node-not-ready, unschedulable, probe-failure in turn).
        #[arg(long, default_value_t = 14)]
        incidents: usize,
        /// Nodes.
        #[arg(long, default_value_t = 20)]
        nodes: usize,
        /// Namespaces.
        #[arg(long, default_value_t = 5)]
        namespaces: usize,
        /// Deployments per namespace.
        #[arg(long, default_value_t = 10)]
        deployments: usize,
        /// Pods per Deployment.
        #[arg(long, default_value_t = 3)]
        replicas: usize,
        /// Hours of event time the capture spans.
        #[arg(long, default_value_t = 4)]
        hours: i64,
        /// Output folder: capture/ (what replay reads) and labels.json.
        #[arg(long)]
        out: PathBuf,
    },
    /// What is affected if an object goes down: pods, workloads, Services (down or
    /// degraded), Ingresses, and callers of those Services. TARGET is KIND/NAME for
    /// cluster-scoped kinds (node/NAME, pv/NAME, storageclass/NAME) and KIND/NS/NAME
    /// otherwise (deployment/shop/web, service/shop/api, cm/shop/web-config, pvc/...).
    Impact {
        /// The object.
        target: String,
        /// Read the map from a capture (anything replay reads) instead of the live cluster.
        #[arg(long, num_args = 1..)]
        from: Vec<PathBuf>,
        /// How to print.
        #[arg(long, value_enum, default_value = "text")]
        output: collect::EventOutput,
        /// Cluster name.
        #[arg(long, env = "TAPIO_CLUSTER", default_value = "default")]
        cluster: String,
    },
    /// Run SQL over the stored history: tables events, correlations, topology, stories.
    Sql {
        /// The query.
        #[arg(required_unless_present = "file", conflicts_with = "file")]
        query: Option<String>,
        /// Read the query from a file (see `queries/examples/`).
        #[arg(long)]
        file: Option<std::path::PathBuf>,
        /// Where history is stored.
        #[arg(long, env = "TAPIO_DATA_DIR", default_value = "tapio-data")]
        data_dir: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

/// Where history goes, for the commands that write it.
#[derive(clap::Args, Debug)]
struct StoreArgs {
    /// Where history is stored: a path, file:// or s3://bucket/prefix URL.
    #[arg(long, env = "TAPIO_DATA_DIR", default_value = "tapio-data")]
    data_dir: String,
    /// Do not write history.
    #[arg(long)]
    no_store: bool,
}

impl StoreArgs {
    fn dir(self) -> Option<String> {
        (!self.no_store).then_some(self.data_dir)
    }
}

/// Kafka topics, for the commands that use them.
#[derive(clap::Args, Debug)]
struct KafkaArgs {
    /// Topic names: PREFIX.events, PREFIX.topology, PREFIX.stories.
    #[arg(long, default_value = "tapio")]
    topic_prefix: String,
    /// Partitions of the topics Tapio creates (existing topics are kept as they are).
    #[arg(long, default_value_t = 3)]
    partitions: i32,
    /// Replication factor of the topics Tapio creates.
    #[arg(long, default_value_t = 1)]
    replication: i32,
    /// A librdkafka setting, KEY=VALUE (repeatable): security.protocol, sasl.*,
    /// group.instance.id (static membership: a restarted instance takes its partitions
    /// back at once), ...
    #[arg(long = "kafka-option", value_name = "KEY=VALUE")]
    options: Vec<String>,
}

impl KafkaArgs {
    fn config(&self, url: &str) -> anyhow::Result<tapio_ingest::kafka::KafkaConfig> {
        let mut c =
            tapio_ingest::kafka::KafkaConfig::parse(url)?.with_topic_prefix(&self.topic_prefix);
        c.partitions = self.partitions;
        c.replication = self.replication;
        for o in &self.options {
            let (k, v) = o
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--kafka-option {o:?}: expected KEY=VALUE"))?;
            c.extra.push((k.trim().to_string(), v.trim().to_string()));
        }
        Ok(c)
    }
}

/// Settings shared by the live commands.
#[derive(clap::Args, Debug)]
struct LiveArgs {
    /// eBPF probes to load (oom, exit, tcp, memcg); default all.
    #[arg(long, value_delimiter = ',')]
    probes: Vec<String>,
    /// This node's name (in a DaemonSet: from spec.nodeName); default the host name.
    #[arg(long, env = "NODE_NAME")]
    node: Option<String>,
    /// Cluster name for the events.
    #[arg(long, env = "TAPIO_CLUSTER", default_value = "default")]
    cluster: String,
    /// Ring buffer size per eBPF probe, bytes (a power of two).
    #[arg(long, default_value_t = 1 << 22)]
    ring_bytes: u32,
    /// Stop after this many seconds (default: run until stopped).
    #[arg(long)]
    duration_secs: Option<u64>,
    /// Kubernetes resources to watch (default all: events, pods, nodes, ..., configmaps+secrets).
    #[arg(long, value_delimiter = ',')]
    k8s_resources: Vec<String>,
}

impl LiveArgs {
    fn ebpf(&self) -> tapio_ingest::ebpf::EbpfOptions {
        let mut o = tapio_ingest::ebpf::EbpfOptions {
            probes: self.probes.clone(),
            cluster: self.cluster.clone(),
            ring_bytes: self.ring_bytes,
            ..Default::default()
        };
        if let Some(n) = &self.node {
            o.node = n.clone();
        }
        o
    }

    fn k8s(&self) -> tapio_ingest::k8s::live::K8sOptions {
        tapio_ingest::k8s::live::K8sOptions {
            cluster: self.cluster.clone(),
            resources: self.k8s_resources.clone(),
            ..Default::default()
        }
    }

    fn duration(&self) -> Option<std::time::Duration> {
        self.duration_secs.map(std::time::Duration::from_secs)
    }
}

/// jemalloc rather than the system allocator: the engine makes many small values per
/// window (signals, incidents, story events), and jemalloc runs it faster at the same
/// peak RSS (README, "Engine: throughput, latency, memory, accuracy").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The whole cause chain on one line, for people; no backtrace.
            eprintln!("tapio: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
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
                store,
                cluster,
                year,
                window_secs,
                idle_timeout_secs,
                sink,
                labels,
                kafka,
            } => {
                let opts = replay::Options {
                    labels,
                    paths,
                    output,
                    data_dir: store.dir(),
                    cluster,
                    year,
                    window_secs,
                    idle_timeout_secs,
                    sink: sink.map(|u| kafka.config(&u)).transpose()?,
                };
                replay::run(opts).await
            }
            Command::Collect {
                collectors,
                output,
                live,
            } => {
                collect::run(collect::Options {
                    collectors,
                    output,
                    ebpf: live.ebpf(),
                    k8s: live.k8s(),
                    duration: live.duration(),
                })
                .await
            }
            Command::Run {
                collectors,
                output,
                store,
                window_secs,
                idle_timeout_secs,
                source,
                sink,
                group,
                commit_secs,
                kafka,
                live,
            } => {
                if let Some(url) = source {
                    return stream::run(stream::Options {
                        kafka: kafka.config(&url)?,
                        group,
                        output,
                        data_dir: store.dir(),
                        window_secs,
                        idle_timeout_secs,
                        duration: live.duration(),
                        flush: std::time::Duration::from_secs(commit_secs.max(1)),
                    })
                    .await;
                }
                run::run(run::Options {
                    sink: sink.map(|u| kafka.config(&u)).transpose()?,
                    collectors,
                    output,
                    ebpf: live.ebpf(),
                    k8s: live.k8s(),
                    data_dir: store.dir(),
                    window_secs,
                    idle_timeout_secs,
                    duration: live.duration(),
                })
                .await
            }
            Command::Generate {
                seed,
                events,
                incidents,
                nodes,
                namespaces,
                deployments,
                replicas,
                hours,
                out,
            } => generate::run(
                tapio_ingest::generate::Scenario {
                    seed,
                    events,
                    incidents,
                    nodes,
                    namespaces,
                    deployments,
                    replicas,
                    span_secs: hours * 3600,
                    ..Default::default()
                },
                out,
            ),
            Command::Impact {
                target,
                from,
                output,
                cluster,
            } => {
                impact::run(impact::Options {
                    target,
                    from,
                    json: output == collect::EventOutput::Json,
                    k8s: tapio_ingest::k8s::live::K8sOptions {
                        cluster,
                        ..Default::default()
                    },
                })
                .await
            }
            Command::Sql {
                query,
                file,
                data_dir,
                format,
            } => {
                let query = match (query, file) {
                    (Some(q), _) => q,
                    (None, Some(f)) => {
                        anyhow::Context::with_context(std::fs::read_to_string(&f), || {
                            format!("reading the query in {}", f.display())
                        })?
                    }
                    (None, None) => anyhow::bail!("give a query or --file"),
                };
                sql::run(&data_dir, &query, format).await
            }
        }
    })
}
