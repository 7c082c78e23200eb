//! A table whose rows are swapped between runs of a physical plan that was planned once.
//!
//! DataFusion's `MemTable` hands its batches to the plan when the plan is built, so every
//! window would need a fresh physical plan — and planning the pattern library (a union of
//! some twenty queries with joins) costs far more than running it over one window's rows.
//! A [`SwapTable`]'s scan instead reads the table's current batches when it executes, so
//! the engine plans once and resets the plan's state per window
//! (`datafusion::physical_plan::execution_plan::reset_plan_states`).

use std::fmt;
use std::sync::{Arc, RwLock};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result as DfResult, Statistics, internal_err};
use datafusion::datasource::TableType;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::physical_plan::statistics::StatisticsArgs;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    ReplaceChildrenOptions, SendableRecordBatchStream,
};

type Slot = Arc<RwLock<Vec<RecordBatch>>>;

/// A table of swappable batches. `rows_hint` is the planner's row estimate (inexact): it
/// lets join selection build hash tables on the side that is small in practice (story keys,
/// notable events) rather than on whichever side a query names first.
#[derive(Debug)]
pub struct SwapTable {
    schema: SchemaRef,
    batches: Slot,
    partitions: usize,
    rows_hint: usize,
}

impl SwapTable {
    /// An empty table read in `partitions` partitions.
    pub fn new(schema: SchemaRef, partitions: usize, rows_hint: usize) -> Self {
        SwapTable {
            schema,
            batches: Arc::default(),
            partitions: partitions.max(1),
            rows_hint,
        }
    }

    /// Replaces the rows that plans read from their next execution on.
    pub fn replace(&self, batches: Vec<RecordBatch>) {
        // A poisoned lock only means a panic elsewhere mid-swap; the Vec is still whole.
        *self.batches.write().unwrap_or_else(|e| e.into_inner()) = batches;
    }

    fn statistics_hint(&self) -> Statistics {
        Statistics::new_unknown(&self.schema).with_num_rows(Precision::Inexact(self.rows_hint))
    }
}

#[async_trait]
impl TableProvider for SwapTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    fn statistics(&self) -> Option<Statistics> {
        Some(self.statistics_hint())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let projection = projection.cloned();
        let schema = match &projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => self.schema.clone(),
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(self.partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        let stats =
            Statistics::new_unknown(&schema).with_num_rows(Precision::Inexact(self.rows_hint));
        Ok(Arc::new(SwapScan {
            batches: self.batches.clone(),
            schema,
            projection,
            partitions: self.partitions,
            properties: Arc::new(properties),
            stats: Arc::new(stats),
        }))
    }
}

/// Scan of a [`SwapTable`]: partition `i` yields the batches `i, i + n, i + 2n, …` that
/// the table holds when the partition is executed.
#[derive(Debug)]
struct SwapScan {
    batches: Slot,
    schema: SchemaRef,
    projection: Option<Vec<usize>>,
    partitions: usize,
    properties: Arc<PlanProperties>,
    stats: Arc<Statistics>,
}

impl DisplayAs for SwapScan {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SwapScan: partitions={}", self.partitions)
    }
}

impl ExecutionPlan for SwapScan {
    fn name(&self) -> &'static str {
        "SwapScan"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        if partition >= self.partitions {
            return internal_err!("SwapScan: partition {partition} of {}", self.partitions);
        }
        let all = self.batches.read().unwrap_or_else(|e| e.into_inner());
        let mine: Vec<RecordBatch> = all
            .iter()
            .skip(partition)
            .step_by(self.partitions)
            .cloned()
            .collect();
        drop(all);
        Ok(Box::pin(MemoryStream::try_new(
            mine,
            self.schema.clone(),
            self.projection.clone(),
        )?))
    }

    fn statistics_from_inputs(
        &self,
        _input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> DfResult<Arc<Statistics>> {
        Ok(self.stats.clone())
    }
}
