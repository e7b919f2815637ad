//! The lake's line items as a FOCUS cost-and-usage dataset, one Hive partition per billing
//! period (`<out>/billing_period=YYYY-MM/part-0.parquet`, or `.csv`; one file per billing
//! currency, `part-0-EUR.parquet`, when a period has several), amounts exact
//! (Decimal128, never floating point), tags as FOCUS's JSON key-value text, and tally's
//! lineage (source file, row, line-item id, ingest run) as `x_` columns.
//!
//! The canonical line item already uses FOCUS names, so most columns pass through; what the
//! sources leave out that FOCUS requires is derived in [`columns`], each with the spec's reason.
//! Every period streams: a batch is read, fixed and written, so memory stays bounded at any size;
//! the amortized rows of a period's purchases follow its line items.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, MapArray, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;
use futures::StreamExt;

use super::allocation::Allocation;
use crate::lake::sql::string_literal;
use crate::lake::{self, Lake};
use crate::schema::TAGS;
use crate::schema::focus::{COLUMNS_1_2 as FOCUS_1_2, INTRODUCED_IN_1_3 as ADDED_IN_1_3};

/// The FOCUS version an export conforms to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Version {
    #[value(name = "1.2")]
    V1_2,
    #[value(name = "1.3")]
    V1_3,
}

impl Version {
    pub fn name(self) -> &'static str {
        match self {
            Version::V1_2 => "1.2",
            Version::V1_3 => "1.3",
        }
    }
}

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Parquet,
    Csv,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub version: Version,
    /// Billing periods (`YYYY-MM`) to export, sorted.
    pub periods: Vec<String>,
    pub format: Format,
    pub out: PathBuf,
    /// Each line item as one row per share of its owner ([`super::allocation`]).
    pub attributed: bool,
}

/// One file written: a period's cost and usage, or a supplementary dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The billing period, or the dataset's FOCUS name (`Contract Commitment`).
    pub name: String,
    pub file: PathBuf,
    pub rows: usize,
    pub dataset: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Input(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(transparent)]
    Query(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("{path}: {source}")]
    Write { path: String, source: datafusion::parquet::errors::ParquetError },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io { path: path.display().to_string(), source }
}

/// tally's lineage, after the FOCUS columns: where each row came from.
const LINEAGE: &[&str] = &[
    "x_ServiceCode",
    "x_LineItemType",
    "x_UsageType",
    "x_Operation",
    "x_SourceFile",
    "x_SourceRow",
    "x_SourceLineItemId",
    "x_IngestRunId",
];

/// The columns of an export, in output order.
pub fn columns(version: Version) -> Vec<&'static str> {
    let mut names: Vec<&str> = FOCUS_1_2.to_vec();
    if version == Version::V1_3 {
        names.extend_from_slice(ADDED_IN_1_3);
        names.sort_unstable();
    }
    names.extend_from_slice(LINEAGE);
    names
}

/// What a period's data needs beyond a row's own values: FOCUS gives a ServiceName one
/// ServiceCategory (ServiceName-C-005-C), so a name the source files under several takes the
/// one most of its rows have (ties: the first by name).
#[derive(Debug, Default)]
struct Fixes {
    categories: Vec<(String, String)>,
}

impl Fixes {
    async fn of(ctx: &datafusion::prelude::SessionContext, period: &str) -> Result<Fixes, ExportError> {
        let sql = format!(
            "SELECT \"ServiceName\", \"ServiceCategory\", count(*) AS n FROM {} WHERE billing_period = '{period}' \
             AND \"ServiceName\" IS NOT NULL AND \"ServiceCategory\" IS NOT NULL GROUP BY 1, 2",
            lake::LINE_ITEMS
        );
        let mut counts: std::collections::BTreeMap<String, Vec<(i64, String)>> = Default::default();
        for batch in lake::sql::query(ctx, &sql).await?.collect().await? {
            let text = |i: usize| datafusion::arrow::compute::cast(batch.column(i), &DataType::Utf8);
            let (names, categories) = (text(0)?, text(1)?);
            let n = datafusion::arrow::compute::cast(batch.column(2), &DataType::Int64)?;
            let n = n.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            for row in 0..batch.num_rows() {
                let name = names.as_string::<i32>().value(row).to_string();
                counts.entry(name).or_default().push((n.value(row), categories.as_string::<i32>().value(row).into()));
            }
        }
        let categories = counts
            .into_iter()
            .filter(|(_, c)| c.len() > 1)
            .map(|(name, mut c)| {
                c.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
                (name, c.swap_remove(0).1)
            })
            .collect();
        Ok(Fixes { categories })
    }

    fn category(&self) -> String {
        if self.categories.is_empty() {
            return "\"ServiceCategory\"".into();
        }
        let cases: String = self
            .categories
            .iter()
            .map(|(n, c)| format!(" WHEN {} THEN {}", string_literal(n), string_literal(c)))
            .collect();
        format!("(CASE \"ServiceName\"{cases} ELSE \"ServiceCategory\" END)")
    }
}

/// AWS service codes and the FOCUS 1.2 subcategory of each (specification, ServiceSubcategory
/// allowed values), used when the source names none and the category is the subcategory's parent.
const SUBCATEGORIES: &[(&str, &str, &str)] = &[
    ("AmazonEC2", "Compute", "Virtual Machines"),
    ("AWSLambda", "Compute", "Serverless Compute"),
    ("AmazonEKS", "Compute", "Containers"),
    ("AmazonECS", "Compute", "Containers"),
    ("AmazonS3", "Storage", "Object Storage"),
    ("AmazonEFS", "Storage", "File Storage"),
    ("AmazonRDS", "Databases", "Relational Databases"),
    ("AmazonDynamoDB", "Databases", "NoSQL Databases"),
    ("AmazonElastiCache", "Databases", "Caching"),
    ("AmazonRedshift", "Databases", "Data Warehouses"),
    ("AmazonCloudWatch", "Management and Governance", "Observability"),
    ("AWSDataTransfer", "Networking", "Network Connectivity"),
    ("AWSELB", "Networking", "Application Networking"),
    ("AmazonCloudFront", "Networking", "Content Delivery"),
    ("AmazonVPC", "Networking", "Network Infrastructure"),
    ("AmazonRoute53", "Networking", "Network Routing"),
];

/// Source units and their FOCUS Unit Format spelling (specification, Unit Format: time units
/// spelled out, `<unit>-<time>`).
const UNITS: &[(&str, &str)] = &[
    ("Hrs", "Hours"),
    ("GB-Mo", "GB-Months"),
    ("LCU-Hrs", "LCU-Hours"),
    ("Lambda-GB-Second", "GB-Seconds"),
    ("Obj-Month", "Objects-Months"),
    ("Lambda-GB-Seconds", "GB-Seconds"),
    ("GB Hours", "GB-Hours"),
    ("GB Months", "GB-Months"),
    ("OCPU Hours", "OCPU-Hours"),
    ("Gigabyte Per Hour", "GB/Hour"),
    ("OCPU Per Hour", "OCPU/Hour"),
    ("GiB/Second-Months", "GiBps-Months"),
    // Azure's units of measure: a price per block of units is "<block> Units".
    ("1/Month", "Units/Month"),
    ("1/Day", "Units/Day"),
    ("1 GB/Month", "GB/Month"),
    ("10K", "10000 Units"),
];

/// Invoicing entities that are the provider itself (AWS's own companies): FOCUS's
/// InvoiceIssuerName is then the provider, and BilledCost is the provider's to collect.
const FIRST_PARTY_ISSUERS: &str = "'Amazon Web Services%'";

const ZERO: &str = "CAST(0 AS DECIMAL(38, 20))";

/// How a column is made from the lake's line item.
fn expression(name: &str, fixes: &Fixes) -> String {
    let category = fixes.category();
    match name {
        "ServiceCategory" => category,
        // FOCUS's three frequencies, whatever case the source wrote them in.
        "ChargeFrequency" => "CASE lower(\"ChargeFrequency\") WHEN 'usage-based' THEN 'Usage-Based' \
             WHEN 'one-time' THEN 'One-Time' WHEN 'recurring' THEN 'Recurring' ELSE \"ChargeFrequency\" END"
            .into(),
        // Required, never null: the source's, else by service, else "Other (<category>)".
        "ServiceSubcategory" => {
            let known: String = SUBCATEGORIES
                .iter()
                .map(|(code, parent, sub)| {
                    format!(" WHEN \"x_ServiceCode\" = '{code}' AND {category} = '{parent}' THEN '{sub}'")
                })
                .collect();
            format!(
                "CASE WHEN \"ServiceSubcategory\" IS NOT NULL THEN \"ServiceSubcategory\"{known} \
                 ELSE concat('Other (', coalesce({category}, 'Other'), ')') END"
            )
        }
        // A tax is priced on other charges, not in a quantity (PricingQuantity-C-004-C).
        "PricingQuantity" => "CASE WHEN \"ChargeCategory\" = 'Tax' THEN NULL ELSE \"PricingQuantity\" END".into(),
        "PricingUnit" => {
            let mapped: String = UNITS.iter().map(|(from, to)| format!(" WHEN '{from}' THEN '{to}'")).collect();
            // A quantity needs its unit: a fee priced per one of something is priced in Units.
            format!(
                "CASE WHEN \"ChargeCategory\" = 'Tax' THEN NULL ELSE (CASE \"PricingUnit\"{mapped} \
                 ELSE coalesce(\"PricingUnit\", CASE WHEN \"PricingQuantity\" IS NOT NULL THEN 'Units' END) END) END"
            )
        }
        // Never null: without a unit price, a charge's list and contracted cost is its billed
        // cost (ListCost-C-008-C, ContractedCost-C-008-C).
        "ListCost" | "ContractedCost" => format!("coalesce(\"{name}\", \"BilledCost\")"),
        // FOCUS 1.3 names the provider twice: who sells the service and who hosts it. Sources
        // before 1.3 name one provider, which is both.
        "ServiceProviderName" | "HostProviderName" => format!("coalesce(\"{name}\", \"ProviderName\")"),
        // ... and a 1.4 file names it only there: 1.2's ProviderName and PublisherName are it.
        "ProviderName" => "coalesce(\"ProviderName\", \"ServiceProviderName\")".into(),
        "PublisherName" => "coalesce(\"PublisherName\", \"ServiceProviderName\", \"ProviderName\")".into(),
        "InvoiceIssuerName" => format!(
            "CASE WHEN \"InvoiceIssuerName\" LIKE {FIRST_PARTY_ISSUERS} THEN coalesce(\"ProviderName\", \"ServiceProviderName\") \
             ELSE \"InvoiceIssuerName\" END"
        ),
        // A purchase carries the bill; what it covers carries the amortized cost ([`amortized`]).
        "EffectiveCost" => format!("CASE WHEN \"ChargeCategory\" = 'Purchase' THEN {ZERO} ELSE \"EffectiveCost\" END"),
        _ => format!("\"{name}\""),
    }
}

/// For a purchase whose amortized cost is not zero (a commitment's unused fee, a support
/// plan's month), the row that carries it. FOCUS: EffectiveCost is 0 on a purchase that covers
/// future charges, and a commitment's unused part is Usage with CommitmentDiscountStatus
/// "Unused". BilledCost, ListCost and ContractedCost stay on the purchase, so every total adds
/// back exactly.
fn amortized(name: &str, fixes: &Fixes) -> String {
    let commitment = "\"CommitmentDiscountId\" IS NOT NULL";
    match name {
        "ChargeCategory" => "'Usage'".into(),
        "ChargeFrequency" => "'Usage-Based'".into(),
        "ChargeDescription" => "concat(coalesce(\"ChargeDescription\", ''), ' (amortized)')".into(),
        "BilledCost" | "ListCost" | "ContractedCost" => ZERO.into(),
        "EffectiveCost" => "\"EffectiveCost\"".into(),
        "ListUnitPrice"
        | "ContractedUnitPrice"
        | "PricingCurrencyListUnitPrice"
        | "PricingCurrencyContractedUnitPrice"
        | "PricingQuantity" => "CAST(NULL AS DECIMAL(38, 20))".into(),
        "PricingUnit" => "CAST(NULL AS VARCHAR)".into(),
        "CommitmentDiscountStatus" => format!("CASE WHEN {commitment} THEN 'Unused' END"),
        // Unused commitment has no consumption; a service's month is one unit of it.
        "ConsumedQuantity" => {
            format!("CASE WHEN {commitment} THEN NULL ELSE coalesce(\"PricingQuantity\", 1) END")
        }
        "ConsumedUnit" => {
            format!("CASE WHEN {commitment} THEN NULL ELSE coalesce({}, 'Units') END", expression("PricingUnit", fixes))
        }
        _ => expression(name, fixes),
    }
}

/// The period's line items, then the amortized rows of its purchases (`x_ExportRow` 0, 1).
fn selects(version: Version, period: &str, fixes: &Fixes) -> [String; 2] {
    let names = columns(version);
    let list = |make: fn(&str, &Fixes) -> String| -> String {
        names.iter().map(|name| format!("{} AS \"{name}\"", make(name, fixes))).collect::<Vec<_>>().join(", ")
    };
    let table = lake::LINE_ITEMS;
    // Periods are `YYYY-MM` (checked by the caller), so quoting inline is safe.
    [
        format!("SELECT {}, 0 AS \"x_ExportRow\" FROM {table} WHERE billing_period = '{period}'", list(expression)),
        format!(
            "SELECT {}, 1 AS \"x_ExportRow\" FROM {table} WHERE billing_period = '{period}' \
             AND \"ChargeCategory\" = 'Purchase' AND \"EffectiveCost\" <> 0",
            list(amortized)
        ),
    ]
}

/// FOCUS's `Tags` is key-value text (JSON object); the lake keeps a map.
fn tags_as_json(batch: &RecordBatch) -> Result<RecordBatch, ExportError> {
    let Ok(index) = batch.schema().index_of(TAGS) else { return Ok(batch.clone()) };
    let column = batch.column(index);
    let Some(map) = column.as_map_opt() else { return Ok(batch.clone()) };
    let text = json_of(map);
    let mut fields: Vec<Arc<Field>> = batch.schema().fields().iter().cloned().collect();
    fields[index] = Arc::new(Field::new(TAGS, DataType::Utf8, true));
    let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
    arrays[index] = Arc::new(text);
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

fn json_of(map: &MapArray) -> datafusion::arrow::array::StringArray {
    let keys = map.keys().as_string::<i32>();
    let values = map.values().as_string::<i32>();
    let mut out = StringBuilder::with_capacity(map.len(), map.len() * 16);
    for row in 0..map.len() {
        if map.is_null(row) {
            out.append_null();
            continue;
        }
        let (start, end) = (map.value_offsets()[row] as usize, map.value_offsets()[row + 1] as usize);
        let object: serde_json::Map<String, serde_json::Value> = (start..end)
            .map(|i| (keys.value(i).to_string(), serde_json::Value::String(values.value(i).to_string())))
            .collect();
        out.append_value(serde_json::Value::Object(object).to_string());
    }
    out.finish()
}

/// The file's schema: every column nullable (a later batch may hold a null the first did not).
fn nullable(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(schema.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect::<Vec<_>>()))
}

/// `batch` in the file's types: the amortized rows' query may type a column differently (a
/// literal's decimal, a view of a string), and one file has one schema.
fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, ExportError> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                Ok(column.clone())
            } else {
                datafusion::arrow::compute::cast(column, field.data_type())
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// Flushes `file` to disk before it is renamed into place.
fn durable(mut file: File) -> std::io::Result<()> {
    file.flush()?;
    file.sync_all()
}

/// Where an export's files go: a writer on its own thread, so encoding and compressing a
/// file overlaps reading and deriving the next batch.
struct Sink {
    schema: SchemaRef,
    encoder: lake::background::Background<()>,
}

impl Sink {
    fn open(format: Format, path: &Path, schema: SchemaRef) -> Result<Sink, ExportError> {
        let file = File::create(path).map_err(io(path))?;
        let encoder = match format {
            Format::Parquet => lake::background::Background::spawn(
                ArrowWriter::try_new(file, schema.clone(), Some(lake::writer_properties()))
                    .map_err(|source| ExportError::Write { path: path.display().to_string(), source })?,
                |w, batch| w.write(batch).map_err(std::io::Error::other),
                |w| durable(w.into_inner().map_err(std::io::Error::other)?),
            ),
            Format::Csv => lake::background::Background::spawn(
                datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(file),
                |w, batch| w.write(batch).map_err(std::io::Error::other),
                |w| durable(w.into_inner()),
            ),
        };
        Ok(Sink { schema, encoder })
    }

    fn write(&mut self, batch: RecordBatch, path: &Path) -> Result<(), ExportError> {
        self.encoder.send(batch).map_err(io(path))
    }

    fn finish(mut self, path: &Path) -> Result<(), ExportError> {
        self.encoder.join().map_err(io(path))
    }
}

/// Streams `queries` into `file` (written beside it, then renamed), each batch expanded into
/// its shares when `allocation` is given (the second query's rows are amortized rows). One
/// file per billing currency, as tally's ingest reads them (a file holds one currency): `file`
/// itself when every row shares one, else `<stem>-<CURRENCY>.<ext>` beside it for each. Returns
/// the files with their rows, none when the queries returned no rows.
async fn write_query(
    ctx: &datafusion::prelude::SessionContext,
    queries: &[String],
    format: Format,
    file: &Path,
    allocation: Option<&mut Allocation>,
) -> Result<Vec<(PathBuf, usize)>, ExportError> {
    let dir = file.parent().expect("a file in a folder");
    fs::create_dir_all(dir).map_err(io(dir))?;
    let name = file.file_name().expect("a file name").to_string_lossy().to_string();
    let mut parts = Parts { dir: dir.to_path_buf(), name, format, schema: None, sinks: Vec::new() };
    let written = write_parts(ctx, queries, &mut parts, allocation).await;
    let paths: Vec<PathBuf> = parts.sinks.iter().map(|(currency, ..)| parts.partial(currency)).collect();
    let finished = written.and_then(|()| {
        let several = parts.sinks.len() > 1;
        let mut files = Vec::new();
        for (currency, sink, rows) in std::mem::take(&mut parts.sinks) {
            let partial = parts.partial(&currency);
            sink.finish(&partial)?;
            let target = if several { parts.final_name(&currency) } else { file.to_path_buf() };
            files.push((partial, target, rows));
        }
        for (partial, target, _) in &files {
            fs::rename(partial, target).map_err(io(target))?;
        }
        Ok(files.into_iter().map(|(_, target, rows)| (target, rows)).collect())
    });
    if finished.is_err() {
        // A refused export leaves nothing behind, not even its partial files.
        for path in paths {
            let _ = fs::remove_file(path);
        }
    }
    finished
}

/// The files one query set is written to, one per billing currency, in the order each
/// currency first appears (all with the first batch's schema).
struct Parts {
    dir: PathBuf,
    name: String,
    format: Format,
    schema: Option<SchemaRef>,
    sinks: Vec<(String, Sink, usize)>,
}

impl Parts {
    fn partial(&self, currency: &str) -> PathBuf {
        self.dir.join(format!(".{}-{currency}.partial", self.name))
    }

    /// `part-0.parquet` -> `part-0-EUR.parquet`.
    fn final_name(&self, currency: &str) -> PathBuf {
        let (stem, ext) = self.name.split_once('.').unwrap_or((&self.name, ""));
        self.dir.join(format!("{stem}-{currency}.{ext}"))
    }

    fn write(&mut self, currency: &str, batch: RecordBatch) -> Result<(), ExportError> {
        let index = match self.sinks.iter().position(|(c, ..)| c == currency) {
            Some(i) => i,
            None => {
                let schema = self.schema.clone().expect("set before the first write");
                let sink = Sink::open(self.format, &self.partial(currency), schema)?;
                self.sinks.push((currency.to_string(), sink, 0));
                self.sinks.len() - 1
            }
        };
        let partial = self.partial(currency);
        let (_, sink, rows) = &mut self.sinks[index];
        let batch = conform(&batch, &sink.schema)?;
        *rows += batch.num_rows();
        sink.write(batch, &partial)
    }
}

async fn write_parts(
    ctx: &datafusion::prelude::SessionContext,
    queries: &[String],
    parts: &mut Parts,
    mut allocation: Option<&mut Allocation>,
) -> Result<(), ExportError> {
    for (query, sql) in queries.iter().enumerate() {
        let mut stream = lake::sql::query(ctx, sql).await?.execute_stream().await?;
        while let Some(batch) = stream.next().await {
            let mut batch = tags_as_json(&batch?)?;
            if let Some(allocation) = allocation.as_deref_mut() {
                batch = allocation.expand(&batch, query == 1)?;
            }
            if batch.num_rows() == 0 {
                continue;
            }
            if parts.schema.is_none() {
                parts.schema = Some(nullable(&batch.schema()));
            }
            for (currency, rows) in by_currency(&batch)? {
                parts.write(&currency, rows)?;
            }
        }
    }
    if let Some(allocation) = allocation {
        allocation.check_all_read()?;
    }
    Ok(())
}

/// `batch` split by its BillingCurrency, rows in order within each (the whole batch, without
/// a copy, when it holds one currency or has no such column).
fn by_currency(batch: &RecordBatch) -> Result<Vec<(String, RecordBatch)>, ExportError> {
    let Some(column) = batch.column_by_name("BillingCurrency") else {
        return Ok(vec![(String::new(), batch.clone())]);
    };
    let column = datafusion::arrow::compute::cast(column, &DataType::Utf8)?;
    let codes = column.as_string::<i32>();
    let code = |i: usize| if codes.is_null(i) { "" } else { codes.value(i) };
    let mut currencies: Vec<&str> = Vec::new();
    for i in 0..codes.len() {
        if !currencies.contains(&code(i)) {
            currencies.push(code(i));
        }
    }
    if currencies.len() == 1 {
        return Ok(vec![(currencies[0].to_string(), batch.clone())]);
    }
    let mut out = Vec::new();
    for currency in currencies {
        let mask: datafusion::arrow::array::BooleanArray =
            (0..codes.len()).map(|i| Some(code(i) == currency)).collect();
        out.push((currency.to_string(), datafusion::arrow::compute::filter_record_batch(batch, &mask)?));
    }
    Ok(out)
}

/// FOCUS's supplementary datasets the lake holds (Contract Commitment, FOCUS 1.3; Invoice
/// Detail and Billing Period, 1.4), each as `<out>/<table>/part-0.<ext>`: the specification's
/// columns as ingested, then tally's lineage.
async fn export_datasets(
    ctx: &datafusion::prelude::SessionContext,
    options: &Options,
) -> Result<Vec<Written>, ExportError> {
    let mut written = Vec::new();
    for dataset in lake::datasets::ALL {
        if !ctx.table_exist(dataset.table)? {
            continue;
        }
        let columns: Vec<String> =
            dataset.columns.iter().chain(&lake::datasets::LINEAGE).map(|(name, _)| format!("\"{name}\"")).collect();
        let sql = format!("SELECT {} FROM {}", columns.join(", "), dataset.table);
        let file = options.out.join(dataset.table).join(format!("part-0.{}", options.format.extension()));
        for (file, rows) in write_query(ctx, &[sql], options.format, &file, None).await? {
            written.push(Written { name: dataset.title.to_string(), file, rows, dataset: true });
        }
    }
    Ok(written)
}

/// Writes each period of `options` into its partition, then the supplementary datasets the
/// lake holds; each file appears whole or not at all (written beside it, then renamed).
pub async fn export(lake: &Lake, options: &Options) -> Result<Vec<Written>, ExportError> {
    if !lake.has_table(lake::LINE_ITEMS) {
        return Err(ExportError::Input(format!(
            "lake {} has no line items: run `tally ingest` first",
            lake.root().display()
        )));
    }
    if options.attributed {
        Allocation::check_attributed(lake, &options.periods)?;
    }
    let ctx = lake.session().await?;
    // One partition: files, row groups and rows are read in order and written as they come, so
    // the same lake gives the same bytes, and nothing is sorted (memory stays bounded).
    ctx.state_ref().write().config_mut().options_mut().execution.target_partitions = 1;
    let mut written = Vec::new();
    for period in &options.periods {
        let file =
            options.out.join(format!("billing_period={period}")).join(format!("part-0.{}", options.format.extension()));
        let fixes = Fixes::of(&ctx, period).await?;
        let mut allocation =
            if options.attributed { Some(Allocation::open(lake, period, options.version)?) } else { None };
        let queries = selects(options.version, period, &fixes);
        for (file, rows) in write_query(&ctx, &queries, options.format, &file, allocation.as_mut()).await? {
            written.push(Written { name: period.clone(), file, rows, dataset: false });
        }
    }
    written.extend(export_datasets(&ctx, options).await?);
    Ok(written)
}
