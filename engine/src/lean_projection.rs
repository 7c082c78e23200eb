//! Projections that run without DataFusion's per-run expression bookkeeping.
//!
//! The engine plans each pattern once and runs it every window (see
//! [`crate::swap_table`]): ~1,800 runs over 1M events in 4 h. Each run of a
//! `ProjectionExec` registers a timing metric per expression, labelled with the
//! expression's SQL text (DataFusion 55, for `EXPLAIN ANALYZE`): without formatting the
//! patterns' long `CASE … LIKE …` expressions again every window, the pattern stage
//! over 4 h went from 0.58–0.59 to 0.49–0.50 s (engine bench, release-nonlto). [`LeanProjection`] evaluates the same expressions with the same `Projector`,
//! without those metrics; [`lean_projections`] swaps it in for every `ProjectionExec` of a
//! plan that is already optimized.

use std::fmt;
use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result as DfResult, internal_err};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::projection::Projector;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties,
    ReplaceChildrenOptions, SendableRecordBatchStream, apply_expression_roots,
};
use futures::StreamExt;

/// `plan` with each `ProjectionExec` replaced by a [`LeanProjection`] of the same
/// expressions, output schema and properties.
pub fn lean_projections(plan: Arc<dyn ExecutionPlan>) -> DfResult<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|p| {
        let Some(projection) = p.downcast_ref::<ProjectionExec>() else {
            return Ok(Transformed::no(p));
        };
        let projector = projection
            .projection_expr()
            .make_projector_with_schema_metadata(
                &projection.input().schema(),
                &projection.schema(),
            )?;
        Ok(Transformed::yes(Arc::new(LeanProjection {
            input: projection.input().clone(),
            projector,
            properties: projection.properties().clone(),
        }) as Arc<dyn ExecutionPlan>))
    })
    .map(|t| t.data)
}

/// A `ProjectionExec` without per-expression metrics (see the module docs).
#[derive(Debug)]
pub struct LeanProjection {
    input: Arc<dyn ExecutionPlan>,
    projector: Projector,
    properties: Arc<PlanProperties>,
}

impl DisplayAs for LeanProjection {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "LeanProjection: expr=[{}]", self.projector.projection())
    }
}

impl ExecutionPlan for LeanProjection {
    fn name(&self) -> &'static str {
        "LeanProjection"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        apply_expression_roots(self.projector.projection().as_ref().iter(), f)
    }

    /// Keeps the properties it was made with, whatever `options` say: it is swapped in
    /// after optimization, and the engine replaces children only to reset their state.
    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return internal_err!("LeanProjection: {} children", children.len());
        }
        Ok(Arc::new(LeanProjection {
            input: children.swap_remove(0),
            projector: self.projector.clone(),
            properties: self.properties.clone(),
        }))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let projector = self.projector.clone();
        let input = self.input.execute(partition, context)?;
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.projector.output_schema().clone(),
            input.map(move |b| b.and_then(|b| projector.project_batch(&b))),
        )))
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::physical_plan::collect;
    use datafusion::prelude::SessionContext;

    use super::*;

    /// The lean plan gives the same rows as DataFusion's, however often it is reset
    /// and run, and holds no `ProjectionExec` any more.
    #[tokio::test]
    async fn lean_plans_project_the_same_rows() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("reason", DataType::Utf8, true),
            Field::new("count", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![
                    Some("BackOff"),
                    Some("Failed to pull"),
                    None,
                ])),
                Arc::new(Int64Array::from(vec![1, 5, 2])),
            ],
        )
        .unwrap();
        let ctx = SessionContext::new();
        let table = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
        ctx.register_table("events", Arc::new(table)).unwrap();
        let plan = ctx
            .sql(
                "SELECT CASE WHEN reason LIKE 'Failed%' THEN 'pull' ELSE 'other' END AS r, \
                 count * 2 AS twice, reason FROM events WHERE count > 1",
            )
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let lean = lean_projections(plan.clone()).unwrap();
        let mut names = Vec::new();
        lean.apply(|p| {
            names.push(p.name());
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
        assert!(names.contains(&"LeanProjection"), "{names:?}");
        assert!(!names.contains(&"ProjectionExec"), "{names:?}");
        assert_eq!(lean.schema(), plan.schema());
        let want = collect(plan, ctx.task_ctx()).await.unwrap();
        for _ in 0..2 {
            let fresh =
                datafusion::physical_plan::execution_plan::reset_plan_states(lean.clone()).unwrap();
            assert_eq!(collect(fresh, ctx.task_ctx()).await.unwrap(), want);
        }
        assert_eq!(want.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    }
}
