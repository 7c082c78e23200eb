//! The trigger prefilter: which patterns can match anything in a window, decided before
//! any pattern SQL runs.
//!
//! Each pattern's optimized logical plan is read once for a *necessary condition*: a set
//! of `(column, value)` atoms over the `events` table such that the pattern yields no row
//! unless some event of the window has one of them (e.g. oom-killed needs an event with
//! `event_type` `k8s.pod.oom_killed` or `kernel.oom_kill`). Per window the engine
//! collects the distinct values of those columns among the notable rows and runs only the
//! patterns whose atoms occur. A pattern whose plan gives no such condition (a regex
//! over messages, an aggregate without groups) always runs, so the cut is exact: it never
//! skips a pattern that could match.
//!
//! A *row-local* pattern (one scan of `events`, no aggregate or window function: each
//! signal comes from one row, the same in every window that holds the row) is checked
//! against, and reads, the rows new since the last evaluation only: an older row gave its
//! signal then, and would give the same one again. Such a pattern runs only when new rows
//! carry its triggers (any new row, when it has no condition), or over every row when the
//! topology it joins changed. With 1M events in one look-back, re-reading every notable
//! row in every window was most of the pattern stage.
//!
//! Why exact sets and not Bloom filters: the atoms are a few dozen short strings and a
//! window's distinct values of the columns they name are a few hundred at most; an exact
//! set of that size costs less to build and probe than a filter would save, and has no
//! false positives. Measured where keys meet every row (`benches/benches/prefilter.rs`):
//! an exact `ahash` set of 6–600 pods tested 51–116M rows/s, `fastbloom` 39–50M and
//! `probabilistic-collections` 14–15M.

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Int32Type;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{JoinType, ScalarValue};
use datafusion::logical_expr::{BinaryExpr, Distinct, Expr, LogicalPlan, Operator};

/// Columns of `events` a condition may name. The first two say what happened and are
/// selective; the others are true of many rows and are only used when nothing better is
/// available.
const STRONG: [&str; 2] = ["event_type", "reason"];
const WEAK: [&str; 3] = ["object_kind", "severity", "source"];

/// One `(column, value)` atom.
pub type Atom = (&'static str, String);

/// A necessary condition: some event of the window must have one of these atoms.
pub type Need = BTreeSet<Atom>;

/// What a pattern's plan says about when it can yield a new signal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trigger {
    /// Its necessary condition ([`need`]); `None`: always run.
    pub need: Option<Need>,
    /// Whether it is [`row_local`]: it reads, and its condition is checked on, new rows
    /// only.
    pub row_local: bool,
}

impl Trigger {
    /// Reads the trigger of a pattern's optimized plan.
    pub fn of(plan: &LogicalPlan) -> Self {
        let need = need(plan);
        Trigger {
            row_local: row_local(plan),
            need,
        }
    }

    /// Whether the pattern must run: `all` are the values among every notable row of
    /// the window, `new` among those new since the last evaluation (`None` when every
    /// row counts as new: the first window, or the topology changed).
    pub fn fires(&self, all: &Present, new: Option<&Present>) -> bool {
        // A row-local pattern's signals come from the rows it reads: without rows, none.
        let reads = |p: &Present| !self.row_local || p.rows > 0;
        match new {
            Some(new) if self.row_local => reads(new) && new.meets(self.need.as_ref()),
            _ => reads(all) && all.meets(self.need.as_ref()),
        }
    }
}

/// The necessary condition of a pattern's optimized plan, if one can be read from it.
pub fn need(plan: &LogicalPlan) -> Option<Need> {
    match plan {
        LogicalPlan::Filter(f) => {
            let own = if scans_events(&f.input) {
                condition(&f.predicate)
            } else {
                None
            };
            better(own, need(&f.input))
        }
        LogicalPlan::TableScan(s) if s.table_name.table() == "events" => {
            s.filters.iter().map(condition).fold(None, better)
        }
        LogicalPlan::Projection(p) => need(&p.input),
        LogicalPlan::SubqueryAlias(a) => need(&a.input),
        LogicalPlan::Sort(s) => need(&s.input),
        LogicalPlan::Limit(l) => need(&l.input),
        LogicalPlan::Repartition(r) => need(&r.input),
        LogicalPlan::Window(w) => need(&w.input),
        LogicalPlan::Distinct(d) => need(d.input()),
        // Without groups an aggregate yields a row from no input at all.
        LogicalPlan::Aggregate(a) if !a.group_expr.is_empty() => need(&a.input),
        LogicalPlan::Join(j) => match j.join_type {
            JoinType::Inner | JoinType::LeftSemi | JoinType::RightSemi => {
                better(need(&j.left), need(&j.right))
            }
            JoinType::Left | JoinType::LeftAnti => need(&j.left),
            JoinType::Right | JoinType::RightAnti => need(&j.right),
            _ => None,
        },
        // Every branch must be empty for the union to be.
        LogicalPlan::Union(u) => {
            u.inputs
                .iter()
                .map(|i| need(i))
                .try_fold(Need::new(), |mut all, n| {
                    all.extend(n?);
                    Some(all)
                })
        }
        _ => None,
    }
}

/// Whether the plan reads `table`, in a subquery too. The engine hands patterns the
/// window's every row (`window_events`) only when one of them reads it.
pub fn scans(plan: &LogicalPlan, table: &str) -> bool {
    let mut found = false;
    let _ = plan.apply_with_subqueries(|p| {
        if let LogicalPlan::TableScan(s) = p
            && s.table_name.table() == table
        {
            found = true;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

/// Whether each row of the plan's output comes from one row of `events`, whatever else
/// the window holds: one scan of `events`, none of `window_events`, and no aggregate
/// function or window function (those read several rows together; a DISTINCT does not). Joins with other tables
/// (topology views, which change only with the topology) are allowed.
pub fn row_local(plan: &LogicalPlan) -> bool {
    fn walk(plan: &LogicalPlan, scans: &mut usize) -> bool {
        match plan {
            LogicalPlan::TableScan(s) => match s.table_name.table() {
                "events" => {
                    *scans += 1;
                    true
                }
                // Every row of the window: what a signal depends on changes by window.
                "window_events" => false,
                _ => true,
            },
            // Grouping without aggregate functions is a DISTINCT: each output row is one
            // input row's values, so a new output needs a new row.
            LogicalPlan::Aggregate(a) if a.aggr_expr.is_empty() => walk(&a.input, scans),
            LogicalPlan::Distinct(Distinct::All(input)) => walk(input, scans),
            LogicalPlan::Aggregate(_) | LogicalPlan::Window(_) | LogicalPlan::Distinct(_) => false,
            p => {
                // Subqueries in expressions read tables of their own.
                let mut sub = false;
                let _ = p.apply_subqueries(|_| {
                    sub = true;
                    Ok(TreeNodeRecursion::Stop)
                });
                !sub && p.inputs().iter().all(|i| walk(i, scans))
            }
        }
    }
    let mut scans = 0;
    walk(plan, &mut scans) && scans == 1
}

/// Whether `plan` passes rows of `events` through unchanged in meaning: filters and
/// projections down to its scan (so a `events.reason` in a predicate above is the row's).
fn scans_events(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::TableScan(s) => s.table_name.table() == "events",
        LogicalPlan::Filter(f) => scans_events(&f.input),
        LogicalPlan::Projection(p) => scans_events(&p.input),
        _ => false,
    }
}

/// The necessary condition of a predicate over rows of `events`.
fn condition(e: &Expr) -> Option<Need> {
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => better(condition(left), condition(right)),
            Operator::Or => {
                let mut l = condition(left)?;
                l.extend(condition(right)?);
                Some(l)
            }
            Operator::Eq => {
                let atom = atom(left, right).or_else(|| atom(right, left))?;
                Some(BTreeSet::from([atom]))
            }
            _ => None,
        },
        Expr::InList(l) if !l.negated => l
            .list
            .iter()
            .map(|v| atom(&l.expr, v))
            .collect::<Option<Need>>(),
        _ => None,
    }
}

/// `events.<column> = 'value'`, through casts.
fn atom(column: &Expr, value: &Expr) -> Option<Atom> {
    let Expr::Column(c) = uncast(column) else {
        return None;
    };
    if c.relation.as_ref().is_none_or(|r| r.table() != "events") {
        return None;
    }
    let name = STRONG
        .iter()
        .chain(WEAK.iter())
        .find(|n| **n == c.name.as_str())?;
    let Expr::Literal(v, _) = uncast(value) else {
        return None;
    };
    Some((name, string(v)?))
}

fn uncast(e: &Expr) -> &Expr {
    match e {
        Expr::Cast(c) => uncast(&c.expr),
        Expr::TryCast(c) => uncast(&c.expr),
        e => e,
    }
}

fn string(v: &ScalarValue) -> Option<String> {
    match v {
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) => Some(s.clone()),
        ScalarValue::Utf8View(Some(s)) => Some(s.clone()),
        ScalarValue::Dictionary(_, inner) => string(inner),
        _ => None,
    }
}

/// Of two necessary conditions (both hold), the more selective: fewer weak atoms, then
/// fewer atoms.
fn better(a: Option<Need>, b: Option<Need>) -> Option<Need> {
    let rank = |n: &Need| {
        let weak = n.iter().filter(|(c, _)| WEAK.contains(c)).count();
        (weak, n.len())
    };
    match (a, b) {
        (Some(a), Some(b)) => Some(if rank(&b) < rank(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// The distinct values, in a window's rows, of the columns some condition names.
#[derive(Debug, Default)]
pub struct Present {
    values: BTreeMap<&'static str, BTreeSet<String>>,
    /// Rows collected over: none, no row-local signal.
    rows: usize,
}

impl Present {
    /// Collects the values of `columns` over `batches`. Dictionary columns are read
    /// through their dictionaries: each used value once, not once per row.
    pub fn collect(batches: &[RecordBatch], columns: &BTreeSet<&'static str>) -> Self {
        let mut values: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
        for b in batches {
            for &c in columns {
                let Some(a) = b.column_by_name(c) else {
                    continue;
                };
                let set = values.entry(c).or_default();
                if let Some(d) = a.as_dictionary_opt::<Int32Type>() {
                    let Some(dict) = d.values().as_string_opt::<i32>() else {
                        continue;
                    };
                    let mut used = vec![false; dict.len()];
                    for k in d.keys().iter().flatten() {
                        if let Some(u) = usize::try_from(k).ok().and_then(|k| used.get_mut(k)) {
                            *u = true;
                        }
                    }
                    for (i, u) in used.iter().enumerate() {
                        if *u && !dict.is_null(i) && !set.contains(dict.value(i)) {
                            set.insert(dict.value(i).to_string());
                        }
                    }
                } else if let Some(s) = a.as_string_opt::<i32>() {
                    for v in s.iter().flatten() {
                        if !set.contains(v) {
                            set.insert(v.to_string());
                        }
                    }
                }
            }
        }
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        Present { values, rows }
    }

    /// Whether some row may meet `need` (always, when there is no condition).
    pub fn meets(&self, need: Option<&Need>) -> bool {
        need.is_none_or(|n| {
            n.iter()
                .any(|(c, v)| self.values.get(c).is_some_and(|s| s.contains(v)))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::prelude::SessionContext;
    use tapio_schemas::event_schema;

    use super::*;
    use crate::swap_table::SwapTable;

    async fn need_of(sql: &str) -> Option<Need> {
        let ctx = SessionContext::new();
        ctx.register_table("events", Arc::new(SwapTable::new(event_schema(), 1, 10)))
            .unwrap();
        ctx.register_table("other", Arc::new(SwapTable::new(event_schema(), 1, 10)))
            .unwrap();
        let plan = ctx.sql(sql).await.unwrap().into_optimized_plan().unwrap();
        need(&plan)
    }

    fn atoms(a: &[(&'static str, &str)]) -> Option<Need> {
        Some(a.iter().map(|(c, v)| (*c, v.to_string())).collect())
    }

    #[tokio::test]
    async fn conditions_are_read_from_filters() {
        // A disjunction needs one of its atoms; a conjunction keeps its selective side.
        assert_eq!(
            need_of(
                "SELECT event_id FROM events WHERE object_kind = 'Pod' \
                 AND (reason = 'BackOff' OR event_type IN ('a', 'b'))"
            )
            .await,
            atoms(&[
                ("event_type", "a"),
                ("event_type", "b"),
                ("reason", "BackOff")
            ])
        );
        // Only a weak atom: still a condition.
        assert_eq!(
            need_of("SELECT event_id FROM events WHERE object_kind = 'Node'").await,
            atoms(&[("object_kind", "Node")])
        );
        // A disjunct without an atom (a message match) leaves no condition.
        assert_eq!(
            need_of("SELECT event_id FROM events WHERE reason = 'x' OR message LIKE '%y%'").await,
            None
        );
        // A negation is not a condition.
        assert_eq!(
            need_of("SELECT event_id FROM events WHERE reason <> 'x'").await,
            None
        );
    }

    #[tokio::test]
    async fn conditions_follow_joins_unions_and_aggregates() {
        // An inner join needs both sides; a left join its left side only.
        assert_eq!(
            need_of(
                "SELECT a.event_id FROM events a JOIN other b ON a.pod = b.pod \
                 WHERE a.reason = 'x'"
            )
            .await,
            atoms(&[("reason", "x")])
        );
        assert_eq!(
            need_of(
                "SELECT b.event_id FROM other b LEFT JOIN events a ON a.pod = b.pod \
                 AND a.reason = 'x'"
            )
            .await,
            None
        );
        // A union needs one of its branches.
        assert_eq!(
            need_of(
                "SELECT event_id FROM events WHERE reason = 'x' \
                 UNION ALL SELECT event_id FROM events WHERE event_type = 'y'"
            )
            .await,
            atoms(&[("event_type", "y"), ("reason", "x")])
        );
        assert_eq!(
            need_of(
                "SELECT event_id FROM events WHERE reason = 'x' \
                 UNION ALL SELECT event_id FROM other"
            )
            .await,
            None
        );
        // A grouped aggregate needs its input; a global one yields a row from nothing.
        assert_eq!(
            need_of("SELECT pod, count(*) FROM events WHERE reason = 'x' GROUP BY pod").await,
            atoms(&[("reason", "x")])
        );
        assert_eq!(
            need_of("SELECT count(*) FROM events WHERE reason = 'x'").await,
            None
        );
        // Another table's columns of the same name are not the events'.
        assert_eq!(
            need_of("SELECT event_id FROM other WHERE reason = 'x'").await,
            None
        );
    }

    async fn row_local_of(sql: &str) -> bool {
        let ctx = SessionContext::new();
        for t in ["events", "window_events", "other"] {
            ctx.register_table(t, Arc::new(SwapTable::new(event_schema(), 1, 10)))
                .unwrap();
        }
        let plan = ctx.sql(sql).await.unwrap().into_optimized_plan().unwrap();
        Trigger::of(&plan).row_local
    }

    #[tokio::test]
    async fn row_local_patterns_read_one_row_per_signal() {
        let cases = [
            ("SELECT event_id FROM events WHERE reason = 'x'", true),
            // A join with another table (a topology view) keeps it row-local.
            (
                "SELECT e.event_id FROM events e JOIN other o ON e.pod = o.pod \
                 WHERE e.reason = 'x'",
                true,
            ),
            // Two rows of events, an aggregate, a window function, the window's rows: not.
            (
                "SELECT a.event_id FROM events a JOIN events b ON a.pod = b.pod \
                 WHERE a.reason = 'x'",
                false,
            ),
            (
                "SELECT pod, count(*) FROM events WHERE reason = 'x' GROUP BY pod",
                false,
            ),
            // A DISTINCT (or a GROUP BY without aggregates) keeps one row's values.
            ("SELECT DISTINCT pod FROM events WHERE reason = 'x'", true),
            (
                "SELECT pod, event_id FROM events WHERE reason = 'x' GROUP BY pod, event_id",
                true,
            ),
            (
                "SELECT event_id, row_number() OVER (PARTITION BY pod ORDER BY event_time) \
                 FROM events WHERE reason = 'x'",
                false,
            ),
            (
                "SELECT e.event_id FROM events e JOIN window_events w ON e.pod = w.pod \
                 WHERE e.reason = 'x'",
                false,
            ),
            // Without a condition it runs whenever there are new rows, and reads those.
            ("SELECT event_id FROM events", true),
        ];
        for (sql, local) in cases {
            assert_eq!(row_local_of(sql).await, local, "{sql}");
        }
    }

    #[tokio::test]
    async fn scans_find_a_table_in_joins_and_subqueries() {
        let ctx = SessionContext::new();
        for t in ["events", "window_events"] {
            ctx.register_table(t, Arc::new(SwapTable::new(event_schema(), 1, 10)))
                .unwrap();
        }
        let cases = [
            ("SELECT event_id FROM events", false),
            (
                "SELECT e.event_id FROM events e JOIN window_events w ON e.pod = w.pod",
                true,
            ),
            (
                "SELECT event_id FROM events WHERE pod IN (SELECT pod FROM window_events)",
                true,
            ),
        ];
        for (sql, reads) in cases {
            let plan = ctx.sql(sql).await.unwrap().into_optimized_plan().unwrap();
            assert_eq!(scans(&plan, "window_events"), reads, "{sql}");
        }
    }

    #[test]
    fn present_values_meet_conditions() {
        use tapio_schemas::{ObjectRef, Severity, UnifiedEvent, events_to_batch};
        let mut e = UnifiedEvent::new(
            "e1".into(),
            1,
            "k8s-event",
            "k8s.event",
            Severity::Warning,
            ObjectRef::new("Pod", "ns", "p"),
        );
        e.reason = Some("BackOff".into());
        let batch = events_to_batch(&[e]);
        let present = Present::collect(&[batch], &BTreeSet::from(["reason", "event_type"]));
        assert!(present.meets(atoms(&[("reason", "BackOff")]).as_ref()));
        assert!(present.meets(atoms(&[("reason", "x"), ("event_type", "k8s.event")]).as_ref()));
        assert!(!present.meets(atoms(&[("reason", "Failed")]).as_ref()));
        // Not collected: cannot be met.
        assert!(!present.meets(atoms(&[("object_kind", "Pod")]).as_ref()));
        assert!(present.meets(None));
    }
}
