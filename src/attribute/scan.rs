//! Reading the lake's line items for attribution: which files hold a
//! period, the columns rules look at, and a typed view of each row.

use std::fs::File;
use std::path::Path;

use chrono::{DateTime, NaiveDate};
use datafusion::arrow::array::{
    Array, AsArray, Decimal128Array, MapArray, StringArray, TimestampMicrosecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::clusters::Site;
use super::rules::{LineView, RuleSet};

/// The columns attribution reads from `line_items`.
pub const INPUT_COLUMNS: [&str; 21] = [
    "ProviderName",
    "BillingAccountId",
    "SubAccountId",
    "ServiceName",
    "x_ServiceCode",
    "RegionId",
    "ResourceId",
    "x_ResourceGroup",
    "Tags",
    "ChargePeriodStart",
    "ChargeCategory",
    "BillingCurrency",
    "BilledCost",
    "EffectiveCost",
    "x_SourceFile",
    "x_SourceRow",
    "x_SourceLineItemId",
    "x_Cluster",
    "x_Namespace",
    "x_Workload",
    "x_SplitParentResourceId",
];

/// Columns added to `line_items` after lakes were written without them: a file that lacks
/// one reads it as absent (null), as the lake's own schema does.
const ADDED_LATER: [&str; 7] = [
    "x_Cluster",
    "x_Namespace",
    "x_Workload",
    "x_SplitParentResourceId",
    "x_SplitCost",
    "x_SplitUnusedCost",
    "x_SplitUsage",
];

pub fn read_batches(path: &Path) -> Result<impl Iterator<Item = Result<RecordBatch, String>>, String> {
    read_columns(path, &INPUT_COLUMNS)
}

/// The batches of `path` with only `columns` decoded (in file order).
pub fn read_columns(
    path: &Path,
    columns: &[&str],
) -> Result<impl Iterator<Item = Result<RecordBatch, String>> + use<>, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| format!("{}: {e}", path.display()))?;
    let schema = builder.schema().clone();
    let mut roots = Vec::new();
    for &name in columns {
        match schema.index_of(name) {
            Ok(index) => roots.push(index),
            Err(_) if ADDED_LATER.contains(&name) => {}
            Err(_) => return Err(format!("{}: no column {name}", path.display())),
        }
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder.with_projection(mask).with_batch_size(8192).build().map_err(|e| e.to_string())?;
    let shown = path.display().to_string();
    Ok(reader.map(move |b| b.map_err(|e| format!("{shown}: {e}"))))
}

/// What of a cluster split a period file may hold, by its Parquet statistics (no statistics:
/// assume so), without reading the rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterRows {
    /// Pod rows (AWS split cost allocation data): any x_SplitParentResourceId.
    pub pods: bool,
    /// GKE idle rows: an x_Namespace range that holds `kube:unallocated`.
    pub gke_idle: bool,
}

impl ClusterRows {
    pub fn any(self) -> bool {
        self.pods || self.gke_idle
    }

    pub fn or(self, other: ClusterRows) -> ClusterRows {
        ClusterRows { pods: self.pods || other.pods, gke_idle: self.gke_idle || other.gke_idle }
    }

    pub fn of(path: &Path) -> Result<ClusterRows, String> {
        let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| format!("{}: {e}", path.display()))?;
        let metadata = builder.metadata();
        let schema = metadata.file_metadata().schema_descr();
        let column = |name: &str| (0..schema.num_columns()).find(|i| schema.column(*i).name() == name);
        let groups = metadata.row_groups();
        let pods = column("x_SplitParentResourceId").is_some_and(|at| {
            groups.iter().any(|group| {
                let nulls = group.column(at).statistics().and_then(|s| s.null_count_opt());
                nulls.is_none_or(|nulls| nulls < group.num_rows() as u64)
            })
        });
        // Case-insensitive: every spelling sorts between the upper- and the lowercase one.
        let lower = crate::attribute::clusters::IDLE_NAMESPACE;
        let upper = lower.to_ascii_uppercase();
        let gke_idle = column("x_Namespace").is_some_and(|at| {
            groups.iter().any(|group| match group.column(at).statistics() {
                Some(stats) => match (stats.min_bytes_opt(), stats.max_bytes_opt()) {
                    (Some(min), Some(max)) => min <= lower.as_bytes() && max >= upper.as_bytes(),
                    _ => stats.null_count_opt().is_none_or(|nulls| nulls < group.num_rows() as u64),
                },
                None => true,
            })
        });
        Ok(ClusterRows { pods, gke_idle })
    }
}

/// A batch's split cost allocation columns: which node a pod row ran on, and what of it the
/// pod used and left idle.
pub struct SplitInput<'b> {
    parent: &'b StringArray,
    used: Option<&'b Decimal128Array>,
    idle: Option<&'b Decimal128Array>,
}

impl<'b> SplitInput<'b> {
    pub const COLUMNS: [&'static str; 3] = ["x_SplitParentResourceId", "x_SplitCost", "x_SplitUnusedCost"];

    /// `None` when the batch has no parent column (a file written before it).
    pub fn new(batch: &'b RecordBatch) -> Option<SplitInput<'b>> {
        let parent = batch.column_by_name("x_SplitParentResourceId")?.as_string_opt::<i32>()?;
        let decimal = |name: &str| batch.column_by_name(name).and_then(|c| c.as_primitive_opt());
        Some(SplitInput { parent, used: decimal("x_SplitCost"), idle: decimal("x_SplitUnusedCost") })
    }

    pub fn parent(&self, row: usize) -> Option<&'b str> {
        (!self.parent.is_null(row)).then(|| self.parent.value(row)).filter(|p| !p.is_empty())
    }

    /// x_SplitCost at the money scale (0 when absent).
    pub fn used(&self, row: usize) -> i128 {
        self.used.filter(|a| !a.is_null(row)).map_or(0, |a| a.value(row))
    }

    /// x_SplitUnusedCost at the money scale (0 when absent).
    pub fn idle(&self, row: usize) -> i128 {
        self.idle.filter(|a| !a.is_null(row)).map_or(0, |a| a.value(row))
    }
}

/// Typed access to one input batch. Text columns and `Tags` that were not
/// read (see `read_columns`) read as absent.
pub struct Input<'b> {
    /// By position in `INPUT_COLUMNS`.
    text: [Option<&'b StringArray>; INPUT_COLUMNS.len()],
    tags: Option<&'b MapArray>,
    start: &'b TimestampMicrosecondArray,
    pub billed: &'b Decimal128Array,
    pub effective: &'b Decimal128Array,
    pub source_row: &'b UInt64Array,
}

// Every column `attributed` copies from the line item is read: checked when tally is built.
const _: () = {
    use crate::lake::attributed::{Origin, TEXT_COLUMNS};
    let mut i = 0;
    while i < TEXT_COLUMNS.len() {
        if matches!(TEXT_COLUMNS[i].1, Origin::LineItem) {
            input_column(TEXT_COLUMNS[i].0);
        }
        i += 1;
    }
};

const RESOURCE_ID: usize = input_column("ResourceId");
const CLUSTER: usize = input_column("x_Cluster");
const NAMESPACE: usize = input_column("x_Namespace");

/// Position of a column in `INPUT_COLUMNS`, for `Input::text_at`.
pub const fn input_column(name: &str) -> usize {
    let mut i = 0;
    while i < INPUT_COLUMNS.len() {
        if crate::schema::same_name(INPUT_COLUMNS[i], name) {
            return i;
        }
        i += 1;
    }
    panic!("not an input column")
}

impl<'b> Input<'b> {
    pub fn new(batch: &'b RecordBatch) -> Input<'b> {
        let mut text = [None; INPUT_COLUMNS.len()];
        for (slot, name) in text.iter_mut().zip(INPUT_COLUMNS) {
            if let Some(column) = batch.column_by_name(name)
                && column.data_type() == &DataType::Utf8
            {
                *slot = Some(column.as_string::<i32>());
            }
        }
        let column = |name: &str| batch.column_by_name(name).expect("projected");
        Input {
            text,
            tags: batch.column_by_name("Tags").map(|c| c.as_map()),
            start: column("ChargePeriodStart").as_primitive(),
            billed: column("BilledCost").as_primitive(),
            effective: column("EffectiveCost").as_primitive(),
            source_row: column("x_SourceRow").as_primitive(),
        }
    }

    pub fn text(&self, name: &str, row: usize) -> Option<&'b str> {
        let at = INPUT_COLUMNS.iter().position(|c| *c == name)?;
        self.text_at(at, row)
    }

    /// The text of column `at` (an `input_column` position).
    #[inline]
    pub fn text_at(&self, at: usize, row: usize) -> Option<&'b str> {
        let array = self.text[at]?;
        (!array.is_null(row)).then(|| array.value(row))
    }

    /// The raw tags of a row, as written in the export.
    pub fn tags(&self, row: usize) -> Vec<(&'b str, &'b str)> {
        self.tag_entries(row).collect()
    }

    /// The raw tags of a row without collecting them (those with a value).
    pub fn tag_entries(&self, row: usize) -> impl Iterator<Item = (&'b str, &'b str)> + use<'b> {
        let (tags, range) = match self.tags {
            Some(tags) if !tags.is_null(row) => {
                let offsets = tags.value_offsets();
                (Some(tags), offsets[row] as usize..offsets[row + 1] as usize)
            }
            _ => (None, 0..0),
        };
        let keys = tags.map(|t| t.keys().as_string::<i32>());
        let values = tags.map(|t| t.values().as_string::<i32>());
        range.filter_map(move |i| {
            let values = values?;
            (!values.is_null(i)).then(|| (keys.expect("with values").value(i), values.value(i)))
        })
    }

    /// Where row `row` ran, for a cluster split ([`Site`]).
    pub fn site(&self, row: usize) -> Site<'b> {
        Site {
            resource: self.text_at(RESOURCE_ID, row),
            start: self.start_micros(row),
            cluster: self.text_at(CLUSTER, row),
            namespace: self.text_at(NAMESPACE, row),
        }
    }

    pub fn start_micros(&self, row: usize) -> Option<i64> {
        (!self.start.is_null(row)).then(|| self.start.value(row))
    }

    pub fn date(&self, row: usize) -> NaiveDate {
        DateTime::from_timestamp_micros(self.start_micros(row).unwrap_or(0)).map(|t| t.date_naive()).unwrap_or_default()
    }

    /// What the rules see of a row.
    pub fn line_view<'v>(&self, row: usize, rules: &'v RuleSet) -> LineView<'v>
    where
        'b: 'v,
    {
        LineView {
            billing_account: self.text("BillingAccountId", row),
            sub_account: self.text("SubAccountId", row),
            service_name: self.text("ServiceName", row),
            service_code: self.text("x_ServiceCode", row),
            region: self.text("RegionId", row),
            charge_category: self.text("ChargeCategory", row),
            resource_id: self.text("ResourceId", row),
            resource_group: self.text("x_ResourceGroup", row),
            cluster: self.text("x_Cluster", row),
            namespace: self.text("x_Namespace", row),
            workload: self.text("x_Workload", row),
            tags: rules.canonical_tags(self.tags(row).into_iter()),
            date: self.date(row),
        }
    }
}
