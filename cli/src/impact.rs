//! `tapio impact KIND/[NS/]NAME`: what goes down, and what degrades, if this object fails —
//! from a capture (`--from`) or the live cluster.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use tapio_ingest::k8s::impact::{Impact, Obj, impact, parse_target};
use tapio_ingest::k8s::live::{K8sOptions, KubernetesCollector};
use tapio_ingest::{ReplayOptions, read_paths};
use tapio_schemas::Relation;

/// What `tapio impact` was asked.
pub struct Options {
    pub target: String,
    pub from: Vec<PathBuf>,
    pub json: bool,
    pub k8s: K8sOptions,
}

/// The live map, once every watcher has listed.
async fn live_relations(k8s: K8sOptions) -> anyhow::Result<Vec<Relation>> {
    let client = tapio_ingest::k8s::live::client().await.context(
        "connecting to Kubernetes (KUBECONFIG, ~/.kube/config or in-cluster); or use --from PATH",
    )?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(65_536);
    // Events are not needed here: drain them.
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let mut col = KubernetesCollector::start(client, k8s, tx).map_err(anyhow::Error::msg)?;
    let mut topo = col.topology();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !col.synced() {
        if tokio::time::Instant::now() > deadline {
            bail!("the Kubernetes API did not finish listing within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The map is rebuilt on the collector's next refresh after the lists.
    topo.borrow_and_update();
    tokio::time::timeout(Duration::from_secs(10), topo.changed())
        .await
        .context("waiting for the relationship map")??;
    let relations = topo.borrow().relations.clone();
    col.shutdown().await;
    drain.abort();
    Ok(relations)
}

fn known(relations: &[Relation], t: &Obj) -> bool {
    relations.iter().any(|r| {
        (r.from_kind == t.0 && r.from_namespace == t.1 && r.from_name == t.2)
            || (r.to_kind == t.0 && r.to_namespace == t.1 && r.to_name == t.2)
    })
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    let target = parse_target(&o.target).map_err(anyhow::Error::msg)?;
    let relations = if o.from.is_empty() {
        live_relations(o.k8s).await?
    } else {
        let ropts = ReplayOptions {
            cluster: o.k8s.cluster.clone(),
            year: None,
        };
        let paths = o.from.clone();
        tokio::task::spawn_blocking(move || read_paths(&paths, &ropts))
            .await??
            .relations
    };
    if !known(&relations, &target) {
        let mut names: Vec<String> = relations
            .iter()
            .flat_map(|r| {
                [
                    (&r.from_kind, &r.from_namespace, &r.from_name),
                    (&r.to_kind, &r.to_namespace, &r.to_name),
                ]
            })
            .filter(|(k, _, _)| **k == target.0)
            .map(|(_, ns, n)| {
                if ns.is_empty() {
                    n.clone()
                } else {
                    format!("{ns}/{n}")
                }
            })
            .collect();
        names.sort();
        names.dedup();
        names.truncate(10);
        bail!(
            "{} {} is not in the map{}",
            target.0,
            if target.1.is_empty() {
                target.2.clone()
            } else {
                format!("{}/{}", target.1, target.2)
            },
            if names.is_empty() {
                String::new()
            } else {
                format!(" (known: {})", names.join(", "))
            }
        );
    }
    let i = impact(&relations, &target);
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    if o.json {
        serde_json::to_writer_pretty(&mut w, &i)?;
        writeln!(w)?;
    } else {
        text(&mut w, &i)?;
    }
    w.flush()?;
    Ok(())
}

fn ns_name(ns: &str, name: &str) -> String {
    if ns.is_empty() {
        name.to_string()
    } else {
        format!("{ns}/{name}")
    }
}

fn text(w: &mut impl Write, i: &Impact) -> std::io::Result<()> {
    writeln!(w, "Blast radius of {}", i.target)?;
    writeln!(w, "  Pods down ({}):", i.pods.len())?;
    for p in &i.pods {
        writeln!(w, "    {:<44} {}", ns_name(&p.namespace, &p.name), p.via)?;
    }
    if !i.workloads.is_empty() {
        writeln!(w, "  Workloads:")?;
        for x in &i.workloads {
            writeln!(
                w,
                "    {:<44} {} of {} pods",
                format!("{} {}", x.kind, ns_name(&x.namespace, &x.name)),
                x.affected_pods,
                x.total_pods
            )?;
        }
    }
    if !i.services.is_empty() {
        writeln!(w, "  Services:")?;
        for s in &i.services {
            writeln!(
                w,
                "    {:<44} {} ({}/{} endpoints)",
                ns_name(&s.namespace, &s.name),
                s.state,
                s.affected_pods,
                s.total_pods
            )?;
        }
    }
    if !i.ingresses.is_empty() {
        writeln!(w, "  Ingresses losing a backend:")?;
        for x in &i.ingresses {
            writeln!(w, "    {:<44} {}", ns_name(&x.namespace, &x.name), x.via)?;
        }
    }
    if !i.callers.is_empty() {
        writeln!(w, "  Degraded callers ({}):", i.callers.len())?;
        for x in &i.callers {
            writeln!(w, "    {:<44} {}", ns_name(&x.namespace, &x.name), x.via)?;
        }
    }
    Ok(())
}
