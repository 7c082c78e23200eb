//! Runs the pattern library over one window with DataFusion. The SQL is planned once,
//! down to physical plans over [`SwapTable`]s; each window swaps the tables' rows and
//! runs a copy of each plan with its execution state reset (a plan carries state, so
//! one is never re-executed as is).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::{
    Array, Float64Array, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow::compute::filter_record_batch;
use arrow::compute::kernels::cmp::neq;
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::physical_plan::execution_plan::reset_plan_states;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::prelude::{SessionConfig, SessionContext};
use tapio_schemas::{as_strings, event_schema, topology_schema};
use tracing::trace;

use crate::lean_projection::lean_projections;
use crate::packed_text::Unpack;
use crate::patterns::{PATTERNS, VIEWS};
use crate::swap_table::SwapTable;
use crate::triggers::{Present, Trigger, scans};
use crate::window_rows::WindowPacking;
use crate::{Error, Result};

/// One row of pattern output joined with its event's context.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// Pattern id.
    pub pattern: &'static str,
    /// The evidence event.
    pub event_id: String,
    /// Blamed object's kind.
    pub subject_kind: String,
    /// Blamed object's namespace.
    pub subject_namespace: String,
    /// Blamed object's name.
    pub subject_name: String,
    /// The pattern's reason.
    pub reason: String,
    /// Evidence weight.
    pub weight: f64,
    /// Event time.
    pub event_time: i64,
    /// Occurrences the event stands for (an Event's `count`: its reporter saw it again).
    pub count: i64,
    /// The last of them: the Event's last timestamp, or `event_time`.
    pub last_seen: i64,
    /// `namespace/pod` of the event, if about a pod.
    pub pod: Option<String>,
    /// `Kind/namespace/name` of the event's workload.
    pub workload: Option<String>,
    /// Node of the event.
    pub node: Option<String>,
    /// The event's message: the graph's semantic dimension compares its template.
    pub message: Option<String>,
}

impl Signal {
    /// `Kind/namespace/name` of the subject.
    pub fn subject_key(&self) -> String {
        format!(
            "{}/{}/{}",
            self.subject_kind, self.subject_namespace, self.subject_name
        )
    }
}

/// Column `name` of a batch of pattern output, as `T`.
fn signal_column<'a, T: Array + 'static>(b: &'a RecordBatch, name: &str) -> Result<&'a T> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| Error::Internal(format!("signal column {name}")))
}

/// The rows patterns see: the non-routine ones. Every pattern triggers on a warning or
/// worse (see `queries/README.md`), and routine rows are most of a cluster's events.
pub fn notable_rows(batch: &RecordBatch) -> Result<RecordBatch> {
    let sev = batch
        .column_by_name("severity")
        .and_then(as_strings)
        .ok_or_else(|| Error::Input("batch without a `severity` column".into()))?;
    let mask = neq(&sev, &StringArray::new_scalar("info"))?;
    Ok(filter_record_batch(batch, &mask)?)
}

/// The per-window DataFusion session.
pub struct Runner {
    ctx: SessionContext,
    /// Non-routine events (severity above info): what patterns match on.
    events: Arc<SwapTable>,
    /// Those of them new since the last window ([`Runner::set_events`]): what the
    /// row-local patterns read, planned in a session of their own where this table is
    /// `events` (see [`crate::triggers`]).
    new_events: Arc<SwapTable>,
    /// How the window holds its rows, with the codecs of its packed columns.
    packing: Arc<WindowPacking>,
    /// Every event of the window (as [`WindowPacking::store`] holds it), for patterns
    /// that read routine rows too (story context is looked up by key:
    /// [`crate::context_index`]).
    window_events: Arc<SwapTable>,
    topology: Arc<SwapTable>,
    /// The topology views, each with its plan over `topology`, in computing order.
    views: Vec<(Arc<SwapTable>, Arc<dyn ExecutionPlan>)>,
    /// Each pattern's plan, with the condition its window must meet to be run.
    patterns: Vec<PatternPlan>,
    /// Every column a pattern's condition names.
    trigger_columns: BTreeSet<&'static str>,
    /// Whether the topology changed since the last window: every row is new to the
    /// patterns that join it.
    topology_changed: AtomicBool,
    /// Whether a pattern reads `window_events` (none of the library does).
    reads_window: bool,
}

/// One pattern, planned: its signals joined with their events' context.
struct PatternPlan {
    plan: Arc<dyn ExecutionPlan>,
    /// When it can yield a new signal.
    trigger: Trigger,
}

/// A window's trigger values ([`Runner::set_events`] collects them, [`Runner::signals`]
/// decides by them): among all its notable rows, and among those new since the previous
/// window (`None`: all are new).
#[derive(Debug, Default)]
pub struct WindowTriggers {
    all: Present,
    new: Option<Present>,
}

/// How many pattern plans a window ran and skipped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PatternRuns {
    /// Patterns run.
    pub run: u64,
    /// Patterns skipped: nothing in the window met their condition.
    pub skipped: u64,
}

/// Row estimates the planner sizes joins by (it plans once, before any window's rows
/// exist): the look-back holds many events, few of them notable.
const ROWS_NOTABLE: usize = 10_000;
const ROWS_WINDOW: usize = 1_000_000;
const ROWS_TOPOLOGY: usize = 100_000;

impl Runner {
    /// Registers the tables and functions and plans every query. A pattern that does not
    /// plan is an error naming its file. `prefilter`: skip patterns whose trigger values
    /// do not occur in a window (see [`crate::triggers`]).
    pub async fn new(partitions: usize, prefilter: bool) -> Result<Self> {
        let partitions = partitions.max(1);
        let mut config = SessionConfig::new()
            .with_target_partitions(partitions)
            .with_information_schema(false);
        // Dynamic filters are state that `reset_plan_states` does not reset.
        config
            .options_mut()
            .optimizer
            .enable_dynamic_filter_pushdown = false;
        let packing = Arc::new(WindowPacking::default());
        // Two sessions over the same tables but one: in `fresh`, `events` holds only the
        // notable rows new since the last window.
        let ctx = SessionContext::new_with_config(config.clone());
        let fresh = SessionContext::new_with_config(config);
        for c in [&ctx, &fresh] {
            for udf in tapio_udfs::all() {
                c.register_udf(udf);
            }
            for (field, codec) in packing.codecs() {
                c.register_udf(Unpack::udf(
                    field.name(),
                    field.data_type().clone(),
                    codec.clone(),
                ));
            }
        }
        let table = |schema, rows| Arc::new(SwapTable::new(schema, partitions, rows));
        let events = table(event_schema(), ROWS_NOTABLE);
        let new_events = table(event_schema(), ROWS_NOTABLE);
        let window_events = table(packing.schema(), ROWS_WINDOW);
        let topology = table(topology_schema(), ROWS_TOPOLOGY);
        ctx.register_table("events", events.clone())?;
        fresh.register_table("events", new_events.clone())?;
        for c in [&ctx, &fresh] {
            c.register_table("window_events", window_events.clone())?;
            c.register_table("topology", topology.clone())?;
        }
        let mut views = Vec::with_capacity(VIEWS.len());
        for v in VIEWS {
            let error = |e| Error::View {
                name: v.name,
                source: Box::new(e),
            };
            let plan = ctx
                .sql(v.sql.trim().trim_end_matches(';'))
                .await
                .map_err(error)?
                .create_physical_plan()
                .await
                .map_err(error)?;
            let view = table(plan.schema(), ROWS_TOPOLOGY);
            ctx.register_table(v.name, view.clone()).map_err(error)?;
            fresh.register_table(v.name, view.clone()).map_err(error)?;
            views.push((view, plan));
        }

        let mut patterns = Vec::with_capacity(PATTERNS.len());
        let mut trigger_columns = BTreeSet::new();
        let mut reads_window = false;
        for p in PATTERNS {
            let body = p.sql.trim().trim_end_matches(';');
            let error = |e| Error::Pattern {
                id: p.id,
                source: Box::new(e),
            };
            // Check each file on its own so that a mistake names the file.
            let logical = ctx
                .sql(body)
                .await
                .map_err(error)?
                .into_optimized_plan()
                .map_err(error)?;
            let trigger = if prefilter {
                Trigger::of(&logical)
            } else {
                Trigger::default()
            };
            trigger_columns.extend(trigger.need.iter().flatten().map(|(c, _)| *c));
            reads_window |= scans(&logical, "window_events");
            let sql = format!(
                "SELECT '{id}' AS pattern, CAST(s.event_id AS VARCHAR) AS event_id, \
                 CAST(s.subject_kind AS VARCHAR) AS subject_kind, CAST(s.subject_namespace AS VARCHAR) AS subject_namespace, \
                 CAST(s.subject_name AS VARCHAR) AS subject_name, CAST(s.reason AS VARCHAR) AS reason, \
                 CAST(s.weight AS DOUBLE) AS weight, e.event_time, e.count, \
                 TRY_CAST(e.attributes['last_timestamp'] AS TIMESTAMP) AS last_seen, \
                 CASE WHEN e.pod IS NULL THEN NULL ELSE CAST(e.object_namespace AS VARCHAR) || '/' || e.pod END AS pod_key, \
                 CASE WHEN e.workload_name IS NULL THEN NULL ELSE CAST(e.workload_kind AS VARCHAR) || '/' || CAST(e.object_namespace AS VARCHAR) || '/' || e.workload_name END AS workload_key, \
                 CAST(e.node AS VARCHAR) AS node, e.message \
                 FROM ({body}) AS s JOIN events e ON e.event_id = s.event_id \
                 WHERE s.subject_name IS NOT NULL AND s.subject_name <> ''",
                id = p.id,
            );
            // A row-local pattern reads only the new rows: each older row gave its
            // signal in an earlier window (and would give the same one again).
            let session = if trigger.row_local { &fresh } else { &ctx };
            let plan = session
                .sql(&sql)
                .await
                .map_err(error)?
                .create_physical_plan()
                .await
                .map_err(error)?;
            let plan = lean_projections(plan).map_err(error)?;
            patterns.push(PatternPlan { plan, trigger });
        }
        Ok(Runner {
            ctx,
            packing,
            events,
            new_events,
            window_events,
            topology,
            views,
            patterns,
            trigger_columns,
            topology_changed: AtomicBool::new(true),
            reads_window,
        })
    }

    /// Replaces the topology and recomputes the views derived from it.
    pub async fn set_topology(&self, batches: Vec<RecordBatch>) -> Result<()> {
        self.topology.replace(batches);
        self.topology_changed.store(true, Ordering::Relaxed);
        for (view, plan) in &self.views {
            view.replace(self.run(plan).await?);
        }
        Ok(())
    }

    /// Whether a pattern reads `window_events`: if none does, [`Runner::set_events`]
    /// needs no rows for it.
    pub fn reads_window(&self) -> bool {
        self.reads_window
    }

    /// How the window holds its rows, with this runner's codecs: what packs the rows
    /// as they arrive ([`WindowPacking::store`]: what [`Runner::set_events`] takes and
    /// [`crate::context_index`] indexes) and unpacks the rows the context search finds.
    /// Shared, so that pieces can be packed on another thread.
    pub fn packing(&self) -> &Arc<WindowPacking> {
        &self.packing
    }

    /// Replaces the window's events: all of them (`window_events`)
    /// and the [`notable_rows`] among them (what patterns read); `new_notable` are
    /// those of the notable rows the previous window did not hold (`None`: all), what
    /// row-local patterns read. After a topology change every row is new to them.
    /// Returns the window's trigger values, for [`Runner::signals`].
    pub fn set_events(
        &self,
        all: Vec<RecordBatch>,
        notable: Vec<RecordBatch>,
        new_notable: Option<Vec<RecordBatch>>,
    ) -> WindowTriggers {
        let changed = self.topology_changed.swap(false, Ordering::Relaxed);
        let new_notable = new_notable.filter(|_| !changed);
        let values = WindowTriggers {
            all: Present::collect(&notable, &self.trigger_columns),
            new: new_notable
                .as_ref()
                .map(|n| Present::collect(n, &self.trigger_columns)),
        };
        self.new_events
            .replace(new_notable.unwrap_or_else(|| notable.clone()));
        self.events.replace(notable);
        self.window_events.replace(all);
        values
    }

    async fn run(&self, plan: &Arc<dyn ExecutionPlan>) -> Result<Vec<RecordBatch>> {
        let fresh = reset_plan_states(plan.clone())?;
        let out = collect(fresh.clone(), self.ctx.task_ctx()).await?;
        // `RUST_LOG=tapio_engine::runner=trace`: every plan run, with its operators'
        // row counts and times (how the stage times above were taken apart).
        trace!(
            plan = %DisplayableExecutionPlan::with_metrics(fresh.as_ref()).indent(true),
            "Plan run."
        );
        Ok(out)
    }

    /// Runs the patterns over the current events: those whose condition some notable
    /// event of the window meets (see [`crate::triggers`]); `values` are what
    /// [`Runner::set_events`] returned. Returns the signals and how many patterns ran.
    pub async fn signals(&self, values: &WindowTriggers) -> Result<(Vec<Signal>, PatternRuns)> {
        let mut runs = PatternRuns::default();
        let mut selected = Vec::new();
        for p in &self.patterns {
            if p.trigger.fires(&values.all, values.new.as_ref()) {
                runs.run += 1;
                selected.push(p.plan.clone());
            } else {
                runs.skipped += 1;
            }
        }
        // One union of the selected plans: its branches run side by side on the
        // session's partitions, as the whole library's union did.
        let batches = if selected.is_empty() {
            Vec::new()
        } else {
            self.run(&UnionExec::try_new(selected)?).await?
        };
        let mut out = Vec::new();
        for b in batches {
            let s = |n: &str| -> Result<StringArray> {
                b.column_by_name(n)
                    .and_then(as_strings)
                    .ok_or_else(|| Error::Internal(format!("signal column {n}")))
            };
            let (pattern, id, kind, ns, name, reason) = (
                s("pattern")?,
                s("event_id")?,
                s("subject_kind")?,
                s("subject_namespace")?,
                s("subject_name")?,
                s("reason")?,
            );
            let (pod, workload, node, message) =
                (s("pod_key")?, s("workload_key")?, s("node")?, s("message")?);
            let weight = signal_column::<Float64Array>(&b, "weight")?;
            let time = signal_column::<TimestampNanosecondArray>(&b, "event_time")?;
            let last_seen = signal_column::<TimestampNanosecondArray>(&b, "last_seen")?;
            let count = signal_column::<Int64Array>(&b, "count")?;
            let opt = |a: &StringArray, i: usize| (!a.is_null(i)).then(|| a.value(i).to_string());
            for i in 0..b.num_rows() {
                let Some(p) = crate::patterns::pattern(pattern.value(i)) else {
                    continue;
                };
                out.push(Signal {
                    pattern: p.id,
                    event_id: id.value(i).to_string(),
                    subject_kind: opt(&kind, i).unwrap_or_default(),
                    subject_namespace: opt(&ns, i).unwrap_or_default(),
                    subject_name: name.value(i).to_string(),
                    reason: opt(&reason, i).unwrap_or_default(),
                    weight: if weight.is_null(i) {
                        0.0
                    } else {
                        weight.value(i)
                    },
                    event_time: time.value(i),
                    count: count.value(i),
                    last_seen: if last_seen.is_null(i) {
                        time.value(i)
                    } else {
                        last_seen.value(i).max(time.value(i))
                    },
                    pod: opt(&pod, i),
                    workload: opt(&workload, i),
                    node: opt(&node, i),
                    message: opt(&message, i),
                });
            }
        }
        // The subject's key is a new string: built only to break ties (building it for
        // every comparison was ~4 % of the engine with 48k pods in one window).
        out.sort_by(|a, b| {
            (a.event_time, &a.event_id, a.pattern)
                .cmp(&(b.event_time, &b.event_id, b.pattern))
                .then_with(|| a.subject_key().cmp(&b.subject_key()))
        });
        out.dedup();
        Ok((out, runs))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use tapio_schemas::Relation;
    use tapio_schemas::rows::to_batch;

    use super::*;

    fn claim(pod: &str, pvc: &str) -> Relation {
        Relation {
            cluster: "c".into(),
            relation: "claims".into(),
            from_kind: "Pod".into(),
            from_namespace: "shop".into(),
            from_name: pod.into(),
            from_uid: None,
            to_kind: "PersistentVolumeClaim".into(),
            to_namespace: "shop".into(),
            to_name: pvc.into(),
            to_uid: None,
            detail: None,
            valid_from: 0,
            valid_to: None,
        }
    }

    async fn claims(r: &Runner) -> Vec<(String, String, i64)> {
        let batches = r
            .ctx
            .sql("SELECT pod, pvc, n FROM pod_claims ORDER BY pod")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let mut out = Vec::new();
        for b in batches {
            let pod = as_strings(b.column(0)).unwrap();
            let pvc = as_strings(b.column(1)).unwrap();
            let n = b
                .column(2)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .unwrap();
            for i in 0..b.num_rows() {
                out.push((pod.value(i).into(), pvc.value(i).into(), n.value(i)));
            }
        }
        out
    }

    /// A kubelet Event about one of 50 pods (`web-{i % 50}`), some with an owner chain,
    /// attributes and a message.
    pub(crate) fn pod_event(i: usize) -> tapio_schemas::UnifiedEvent {
        let mut e: tapio_schemas::UnifiedEvent = serde_json::from_value(serde_json::json!({
            "event_id": format!("{i:08x}-7c1e-4b2a-9f3d-{i:012x}"),
            "event_time": "2026-11-21T09:00:00Z", "observed_time": "2026-11-21T09:00:01Z",
            "source": "k8s-event", "event_type": "k8s.event", "severity": "info",
            "cluster": "c",
            "object": {"kind": "Pod", "namespace": "shop", "name": format!("web-{}", i % 50)},
        }))
        .unwrap();
        e.pod = Some(format!("web-{}", i % 50));
        if i % 3 != 1 {
            e.owner_chain = vec![
                format!("ReplicaSet/web-{:x}", i % 50),
                "Deployment/web".into(),
            ];
            e.attributes.insert("reporter".into(), "kubelet".into());
            e.attributes.insert(
                "first_timestamp".into(),
                format!("2026-11-21T09:{:02}:00Z", i % 60),
            );
        }
        e.message = (!i.is_multiple_of(5)).then(|| {
            format!(
                "Successfully assigned shop/web-{}-{i:05x} to node-{}",
                i % 50,
                i % 7
            )
        });
        e
    }

    /// An OOM kill, as the kernel collector reports it.
    fn oom_kill(i: usize) -> tapio_schemas::UnifiedEvent {
        let mut e = pod_event(i);
        e.source = "ebpf".into();
        e.event_type = "kernel.oom_kill".into();
        e.severity = tapio_schemas::Severity::Critical;
        e
    }

    /// Row-local patterns read the notable rows new since the last window, and every
    /// row again after a topology change.
    #[tokio::test]
    async fn row_local_patterns_read_only_the_new_rows() {
        let r = Runner::new(1, true).await.unwrap();
        let batch = |events: &[tapio_schemas::UnifiedEvent]| tapio_schemas::events_to_batch(events);
        let (old, new) = (batch(&[oom_kill(1)]), batch(&[oom_kill(2)]));
        let oom_signals = |signals: Vec<Signal>| -> Vec<String> {
            signals
                .into_iter()
                .filter(|s| s.pattern == "oom-killed")
                .map(|s| s.event_id)
                .collect()
        };
        // The first window: every row is new.
        let t = r.set_events(Vec::new(), vec![old.clone()], None);
        let (first, _) = r.signals(&t).await.unwrap();
        assert_eq!(oom_signals(first), [oom_kill(1).event_id]);
        // The next: the old row gave its signal already; only the new row is read.
        let t = r.set_events(
            Vec::new(),
            vec![old.clone(), new.clone()],
            Some(vec![new.clone()]),
        );
        let (next, runs) = r.signals(&t).await.unwrap();
        assert_eq!(oom_signals(next), [oom_kill(2).event_id]);
        assert!(runs.run >= 1);
        // Nothing new: oom-killed gives no signal again.
        let t = r.set_events(Vec::new(), vec![old.clone(), new.clone()], Some(Vec::new()));
        let (none, _) = r.signals(&t).await.unwrap();
        assert!(oom_signals(none).is_empty());
        // No notable rows at all: nothing runs, not even dns-failure, which has no
        // trigger condition.
        let t = r.set_events(Vec::new(), Vec::new(), Some(Vec::new()));
        let (_, runs) = r.signals(&t).await.unwrap();
        assert_eq!(runs.run, 0, "{runs:?}");
        // After a topology change every row is new to the patterns that join it.
        r.set_topology(Vec::new()).await.unwrap();
        let t = r.set_events(Vec::new(), vec![old, new.clone()], Some(vec![new]));
        let (all, _) = r.signals(&t).await.unwrap();
        assert_eq!(
            oom_signals(all),
            [oom_kill(1).event_id, oom_kill(2).event_id]
        );
    }

    /// A view is computed when the topology is set and follows each change of it.
    #[tokio::test]
    async fn views_follow_the_topology() {
        let r = Runner::new(2, true).await.unwrap();
        assert!(claims(&r).await.is_empty());
        let set = |rels: Vec<Relation>| to_batch(topology_schema(), &rels).unwrap();
        r.set_topology(vec![set(vec![claim("db-0", "data-db-0")])])
            .await
            .unwrap();
        assert_eq!(claims(&r).await, [("db-0".into(), "data-db-0".into(), 1)]);
        r.set_topology(vec![set(vec![
            claim("db-0", "data-db-0"),
            claim("db-0", "logs-db-0"),
            claim("db-1", "data-db-1"),
        ])])
        .await
        .unwrap();
        assert_eq!(
            claims(&r).await,
            [
                ("db-0".into(), "data-db-0".into(), 2),
                ("db-1".into(), "data-db-1".into(), 1)
            ]
        );
    }
}

#[cfg(test)]
mod trigger_tests {
    use super::*;
    use crate::triggers::Need;

    /// The conditions read from the real pattern library: the selective patterns have
    /// one, and the ones matching on message text alone run always.
    #[tokio::test]
    async fn the_pattern_library_has_trigger_conditions() {
        let r = Runner::new(1, true).await.unwrap();
        let by_id: Vec<(&str, &Trigger)> = PATTERNS
            .iter()
            .zip(&r.patterns)
            .map(|(p, plan)| (p.id, &plan.trigger))
            .collect();
        for (id, t) in &by_id {
            eprintln!("{id}: {t:?}");
        }
        let trigger = |id: &str| by_id.iter().find(|(p, _)| *p == id).unwrap().1;
        let need = |id: &str| trigger(id).need.as_ref();
        assert_eq!(
            need("oom-killed"),
            Some(&Need::from([
                ("event_type", "kernel.oom_kill".to_string()),
                ("event_type", "k8s.pod.oom_killed".to_string()),
            ]))
        );
        assert!(need("crashloop").is_some_and(|n| n.contains(&("reason", "BackOff".into()))));
        // dns-failure matches resolver messages by regex: no condition, but row-local
        // still (it reads every new row).
        assert_eq!(need("dns-failure"), None);
        assert!(trigger("dns-failure").row_local);
        // One event, one signal: checked against new rows only. A cascade joins a
        // downstream failure with an upstream one, another row: checked on all rows.
        assert!(trigger("oom-killed").row_local);
        assert!(trigger("crashloop").row_local);
        assert!(!trigger("cascading-failure").row_local);
        // Its GROUP BY only removes duplicate rows.
        assert!(trigger("network-policy-block").row_local);
        assert!(!trigger("service-no-endpoints").row_local);
        // Without the prefilter, none.
        let off = Runner::new(1, false).await.unwrap();
        assert!(off.patterns.iter().all(|p| p.trigger == Trigger::default()));
    }
}
