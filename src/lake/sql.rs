//! SQL over the lake: read-only, and with arithmetic that fails instead of wrapping.
//!
//! Every query tally runs (reports, findings, budgets, `tally sql`) goes through
//! [`query`], which refuses anything that could write: DML (`INSERT`, `DELETE`,
//! `UPDATE`, `COPY ... TO`), DDL (`CREATE [EXTERNAL] TABLE`, `CREATE VIEW`, `DROP`)
//! and statements (`SET`, `PREPARE`, transactions). The lake changes only through
//! tally's own writers, which reconcile what they write.
//!
//! DataFusion's `sum` and its `+`, `-`, `*` wrap around on overflow (as Rust's
//! release builds do), so a hostile amount can turn a total negative while every
//! check still says "ok". The session replaces `sum` with [`CheckedSum`] and
//! rewrites decimal `+ - *` into [`CheckedArithmetic`]: an overflow is an error
//! naming the expression. Report SQL stays portable: it still says `sum(...)`.

/// `text` as a SQL string literal: single quotes, a quote inside doubled. The one way
/// tally writes a value into SQL text (DataFusion, DuckDB, Spark and Trino all read it so).
pub fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, ArrowNativeTypeOp, ArrowPrimitiveType, AsArray, BooleanArray, PrimitiveArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, FieldRef, Int64Type, UInt64Type};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, ScalarValue, exec_err, plan_err};
use datafusion::dataframe::DataFrame;
use datafusion::error::{DataFusionError, Result};
use datafusion::functions_aggregate::sum::Sum;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
use datafusion::logical_expr::utils::{AggregateOrderSensitivity, merge_schema};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, BinaryExpr, ColumnarValue, Documentation, EmitTo, Expr, ExprSchemable,
    GroupsAccumulator, LogicalPlan, Operator, ReversedUDAF, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    SetMonotonicity, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::prelude::{SessionConfig, SessionContext};

/// A session with tally's checked `sum` and checked decimal arithmetic.
pub fn session(config: SessionConfig) -> SessionContext {
    let ctx = SessionContext::new_with_config(config);
    ctx.register_udaf(AggregateUDF::from(CheckedSum::default()));
    ctx.add_analyzer_rule(Arc::new(CheckArithmetic));
    ctx
}

/// Plans `sql` and refuses it unless it only reads; then returns it to run.
pub async fn query(ctx: &SessionContext, sql: &str) -> Result<DataFrame> {
    let plan = ctx.state().create_logical_plan(sql).await?;
    if let Some(what) = writes(&plan) {
        return plan_err!(
            "{what} is refused: SQL over the lake is read-only (SELECT, WITH, EXPLAIN, DESCRIBE, SHOW). \
             The lake changes only through tally's own commands (ingest, attribute, lock, budget, findings, \
             nudge), which reconcile what they write; to export a result, use --format csv or json"
        );
    }
    ctx.execute_logical_plan(plan).await
}

/// What a plan would change, if anything (looking into EXPLAIN ANALYZE and subqueries too).
fn writes(plan: &LogicalPlan) -> Option<String> {
    let mut found = None;
    let _ = plan.apply_with_subqueries(|node| {
        found = match node {
            LogicalPlan::Dml(dml) => Some(format!("{} (DML)", dml.op)),
            LogicalPlan::Copy(copy) => Some(format!("COPY ... TO '{}'", copy.output_url)),
            LogicalPlan::Ddl(ddl) => Some(format!("{} (DDL)", ddl.name())),
            LogicalPlan::Statement(statement) => Some(format!("{} (a statement)", statement.name())),
            _ => None,
        };
        Ok(if found.is_some() {
            datafusion::common::tree_node::TreeNodeRecursion::Stop
        } else {
            datafusion::common::tree_node::TreeNodeRecursion::Continue
        })
    });
    found
}

fn overflow(what: &str) -> DataFusionError {
    DataFusionError::Execution(format!(
        "{what} overflowed: the amounts add up to more than a decimal of 38 digits holds (about 1.7e18 at \
         the lake's 20 decimal places); no real bill comes near this, so the data holds corrupt or hostile \
         amounts"
    ))
}

/// `sum` that fails on overflow for the types money and counts use
/// (Decimal128, Int64, UInt64) and is DataFusion's own for the rest.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct CheckedSum {
    inner: Sum,
}

/// The types [`CheckedSum`] checks.
fn checked_type(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Decimal128(_, _) | DataType::Int64 | DataType::UInt64)
}

impl AggregateUDFImpl for CheckedSum {
    fn name(&self) -> &str {
        "sum"
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let data_type = args.return_field.data_type().clone();
        if args.is_distinct || !checked_type(&data_type) {
            return self.inner.accumulator(args);
        }
        Ok(match data_type {
            DataType::Decimal128(_, _) => Box::new(SumOne::<Decimal128Type>::new(data_type, args.name)),
            DataType::Int64 => Box::new(SumOne::<Int64Type>::new(data_type, args.name)),
            _ => Box::new(SumOne::<UInt64Type>::new(data_type, args.name)),
        })
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        let data_type = args.return_field.data_type().clone();
        if !checked_type(&data_type) {
            return self.inner.create_groups_accumulator(args);
        }
        Ok(match data_type {
            DataType::Decimal128(_, _) => Box::new(SumGroups::<Decimal128Type>::new(data_type, args.name)),
            DataType::Int64 => Box::new(SumGroups::<Int64Type>::new(data_type, args.name)),
            _ => Box::new(SumGroups::<UInt64Type>::new(data_type, args.name)),
        })
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let data_type = args.return_field.data_type().clone();
        if args.is_distinct || !checked_type(&data_type) {
            return self.inner.create_sliding_accumulator(args);
        }
        // SumOne retracts too, so it serves sliding window frames.
        self.accumulator(args)
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        ReversedUDAF::Identical
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        AggregateOrderSensitivity::Insensitive
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }

    fn set_monotonicity(&self, data_type: &DataType) -> SetMonotonicity {
        self.inner.set_monotonicity(data_type)
    }
    // No `simplify_expr_op_literal` (it would rebuild DataFusion's own, wrapping sum)
    // and no `value_from_stats`: every sum is computed, and checked.
}

/// One running checked sum (ungrouped aggregates and window frames).
struct SumOne<T: ArrowPrimitiveType> {
    sum: T::Native,
    count: u64,
    data_type: DataType,
    name: String,
}

impl<T: ArrowPrimitiveType> SumOne<T> {
    fn new(data_type: DataType, name: &str) -> Self {
        SumOne { sum: T::Native::default(), count: 0, data_type, name: name.to_string() }
    }

    fn add(&mut self, values: &ArrayRef, sign: Sign) -> Result<()> {
        let values = values.as_primitive::<T>();
        for value in values.iter().flatten() {
            self.sum = match sign {
                Sign::Add => self.sum.add_checked(value),
                Sign::Retract => self.sum.sub_checked(value),
            }
            .map_err(|_| overflow(&self.name))?;
        }
        let n = (values.len() - values.null_count()) as u64;
        match sign {
            Sign::Add => self.count += n,
            Sign::Retract => self.count -= n,
        }
        Ok(())
    }
}

impl<T: ArrowPrimitiveType> std::fmt::Debug for SumOne<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SumOne({})", self.data_type)
    }
}

impl<T: ArrowPrimitiveType> std::fmt::Debug for SumGroups<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SumGroups({}, {} groups)", self.data_type, self.sums.len())
    }
}

#[derive(Clone, Copy)]
enum Sign {
    Add,
    Retract,
}

impl<T: ArrowPrimitiveType> Accumulator for SumOne<T> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(&values[0], Sign::Add)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let value = (self.count > 0).then_some(self.sum);
        let array = PrimitiveArray::<T>::from_iter([value]).with_data_type(self.data_type.clone());
        valid_precision(&array, &self.name)?;
        ScalarValue::try_from_array(&array, 0)
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.name.capacity()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.add(&states[0], Sign::Add)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(&values[0], Sign::Retract)
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }
}

/// Checked sums per group (GROUP BY).
struct SumGroups<T: ArrowPrimitiveType> {
    sums: Vec<T::Native>,
    seen: Vec<bool>,
    data_type: DataType,
    name: String,
}

impl<T: ArrowPrimitiveType> SumGroups<T> {
    fn new(data_type: DataType, name: &str) -> Self {
        SumGroups { sums: Vec::new(), seen: Vec::new(), data_type, name: name.to_string() }
    }

    fn add(
        &mut self,
        values: &ArrayRef,
        groups: &[usize],
        filter: Option<&BooleanArray>,
        total_groups: usize,
    ) -> Result<()> {
        self.sums.resize(total_groups, T::Native::default());
        self.seen.resize(total_groups, false);
        let values = values.as_primitive::<T>();
        let raw = values.values();
        let mut overflowed = false;
        if values.null_count() == 0 && filter.is_none() {
            for (&group, &value) in groups.iter().zip(raw.iter()) {
                let sum = &mut self.sums[group];
                match sum.add_checked(value) {
                    Ok(s) => *sum = s,
                    Err(_) => overflowed = true,
                }
                self.seen[group] = true;
            }
        } else {
            for (row, &group) in groups.iter().enumerate() {
                if values.is_null(row) || filter.is_some_and(|f| !f.is_valid(row) || !f.value(row)) {
                    continue;
                }
                let sum = &mut self.sums[group];
                match sum.add_checked(raw[row]) {
                    Ok(s) => *sum = s,
                    Err(_) => overflowed = true,
                }
                self.seen[group] = true;
            }
        }
        if overflowed { Err(overflow(&self.name)) } else { Ok(()) }
    }

    fn take(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let sums = emit_to.take_needed(&mut self.sums);
        let seen = emit_to.take_needed(&mut self.seen);
        let nulls = NullBuffer::from(seen);
        let array = PrimitiveArray::<T>::new(sums.into(), Some(nulls)).with_data_type(self.data_type.clone());
        valid_precision(&array, &self.name)?;
        Ok(Arc::new(array))
    }
}

impl<T: ArrowPrimitiveType> GroupsAccumulator for SumGroups<T> {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.add(&values[0], group_indices, opt_filter, total_num_groups)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.take(emit_to)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.take(emit_to)?])
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        self.add(&values[0], group_indices, None, total_num_groups)
    }

    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        let values = values[0].as_primitive::<T>();
        let keep = |row: usize| values.is_valid(row) && opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
        let nulls = NullBuffer::from_iter((0..values.len()).map(keep));
        let state =
            PrimitiveArray::<T>::new(values.values().clone(), Some(nulls)).with_data_type(self.data_type.clone());
        Ok(vec![Arc::new(state)])
    }

    fn size(&self) -> usize {
        self.sums.capacity() * size_of::<T::Native>() + self.seen.capacity() + self.name.capacity()
    }
}

/// A decimal sum must also fit its declared precision (38 digits), not only i128.
fn valid_precision<T: ArrowPrimitiveType>(array: &PrimitiveArray<T>, name: &str) -> Result<()> {
    if let DataType::Decimal128(precision, _) = array.data_type() {
        let decimals = array.as_any().downcast_ref::<PrimitiveArray<Decimal128Type>>().expect("a Decimal128 array");
        if decimals.validate_decimal_precision(*precision).is_err() {
            return Err(overflow(name));
        }
    }
    Ok(())
}

/// Rewrites decimal `a + b`, `a - b` and `a * b` into [`CheckedArithmetic`]
/// calls, keeping every column's name. Runs after type coercion, so the
/// operand types are final.
#[derive(Debug)]
struct CheckArithmetic;

impl AnalyzerRule for CheckArithmetic {
    fn name(&self) -> &str {
        "tally_check_arithmetic"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            let schema = match node.inputs().as_slice() {
                [] => node.schema().as_ref().clone(),
                inputs => merge_schema(inputs),
            };
            let names = NamePreserver::new(&node);
            node.map_expressions(|expr| {
                let name = names.save(&expr);
                let rewritten = expr.transform_up(|e| checked(e, &schema))?;
                Ok(rewritten.update_data(|e| name.restore(e)))
            })
        })
        .map(|t| t.data)
    }
}

fn checked(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &expr else {
        return Ok(Transformed::no(expr));
    };
    let op = *op;
    if !matches!(op, Operator::Plus | Operator::Minus | Operator::Multiply) {
        return Ok(Transformed::no(expr));
    }
    let decimal = |e: &Expr| e.get_type(schema).is_ok_and(|t| matches!(t, DataType::Decimal128(_, _)));
    if !decimal(left) || !decimal(right) {
        return Ok(Transformed::no(expr));
    }
    let function = Arc::new(ScalarUDF::from(CheckedArithmetic::new(op)));
    let args = vec![left.as_ref().clone(), right.as_ref().clone()];
    Ok(Transformed::yes(Expr::ScalarFunction(ScalarFunction::new_udf(function, args))))
}

/// `a + b`, `a - b` or `a * b` on decimals, failing on overflow instead of wrapping.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CheckedArithmetic {
    op: Operator,
    signature: Signature,
}

impl CheckedArithmetic {
    fn new(op: Operator) -> Self {
        CheckedArithmetic { op, signature: Signature::any(2, Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for CheckedArithmetic {
    fn name(&self) -> &str {
        match self.op {
            Operator::Plus => "tally_checked_add",
            Operator::Minus => "tally_checked_subtract",
            _ => "tally_checked_multiply",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        BinaryTypeCoercer::new(&arg_types[0], &self.op, &arg_types[1]).get_result_type()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [left, right] = args.args.as_slice() else {
            return exec_err!("{} takes two arguments", self.name());
        };
        let kernel = match self.op {
            Operator::Plus => numeric::add,
            Operator::Minus => numeric::sub,
            _ => numeric::mul,
        };
        datafusion::physical_expr_common::datum::apply(left, right, kernel).map_err(|e| match e {
            DataFusionError::ArrowError(error, _)
                if matches!(*error, datafusion::arrow::error::ArrowError::ArithmeticOverflow(_)) =>
            {
                overflow(&format!("decimal {}", self.op))
            }
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn one(ctx: &SessionContext, sql: &str) -> Result<String> {
        let batches = query(ctx, sql).await?.collect().await?;
        Ok(datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string())
    }

    fn ctx() -> SessionContext {
        let mut config = SessionConfig::new();
        config.options_mut().sql_parser.enable_ident_normalization = false;
        session(config)
    }

    const BIG: &str = "CAST('900000000000000000' AS DECIMAL(38, 20))";

    #[tokio::test]
    async fn sums_that_would_wrap_are_errors() {
        let ctx = ctx();
        let five = format!("SELECT {BIG} AS c UNION ALL SELECT {BIG} UNION ALL SELECT {BIG}");
        let err = one(&ctx, &format!("SELECT sum(c) FROM ({five})")).await.unwrap_err().to_string();
        assert!(err.contains("overflowed"), "{err}");
        let grouped = format!("SELECT g, sum(c) FROM (SELECT 1 AS g, c FROM ({five})) GROUP BY g");
        let err = one(&ctx, &grouped).await.unwrap_err().to_string();
        assert!(err.contains("overflowed"), "{err}");
        let window = format!("SELECT sum(c) OVER (ORDER BY c ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM ({five})");
        let err = one(&ctx, &window).await.unwrap_err().to_string();
        assert!(err.contains("overflowed"), "{err}");
        let add = format!("SELECT {BIG} + {BIG} + {BIG} AS s");
        let err = one(&ctx, &add).await.unwrap_err().to_string();
        assert!(err.contains("overflowed"), "{err}");
    }

    #[tokio::test]
    async fn ordinary_sums_and_arithmetic_are_unchanged() {
        let ctx = ctx();
        let text = one(
            &ctx,
            "SELECT g, sum(c) AS total, sum(c) - sum(c) AS zero, sum(n) AS n FROM (VALUES \
             (1, CAST('1.5' AS DECIMAL(38, 20)), 2), (1, CAST('-0.25' AS DECIMAL(38, 20)), 3), \
             (2, NULL, NULL)) AS t(g, c, n) GROUP BY g ORDER BY g",
        )
        .await
        .unwrap();
        assert!(text.contains("| 1 | 1.25000000000000000000 | 0.00000000000000000000 | 5 |"), "{text}");
        assert!(text.contains("| 2 |                        |                        |   |"), "{text}");
    }

    #[tokio::test]
    async fn writes_are_refused() {
        let ctx = ctx();
        for (sql, what) in [
            ("CREATE TABLE t AS SELECT 1", "CreateMemoryTable (DDL)"),
            ("CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/tmp/x.csv'", "CreateExternalTable (DDL)"),
            ("SET datafusion.execution.batch_size = 1", "SetVariable (a statement)"),
            ("COPY (SELECT 1) TO '/tmp/tally-should-not-exist.csv'", "COPY ... TO '/tmp/tally-should-not-exist.csv'"),
        ] {
            let err = one(&ctx, sql).await.unwrap_err().to_string();
            assert!(err.contains(&format!("{what} is refused: SQL over the lake is read-only")), "{sql}: {err}");
        }
        assert!(!std::path::Path::new("/tmp/tally-should-not-exist.csv").exists());
    }
}
