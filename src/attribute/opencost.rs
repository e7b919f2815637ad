//! OpenCost's allocation export as a pool's telemetry, for clusters the bill does not split
//! (self-managed, or exports without split cost allocation data): each row is one allocation
//! (a namespace, controller or pod) over a window, with what OpenCost priced it at. The rules
//! decide each row's team from its cluster, namespace, controller and labels, as they decide a
//! pod's; the pool then splits the nodes' billed cost by those amounts per day, exactly, by
//! largest remainder. OpenCost's amounts are only weights: the bill is the cost.
//!
//! Columns, as OpenCost's exporters flatten its `/allocation` API (`opencost-parquet-exporter`,
//! and CSV written from the API's JSON): `window.start` (or `start`), `name`,
//! `properties.cluster`, `properties.namespace`, `properties.controller`, `properties.labels.<key>`
//! and `totalCost` (or the sum of `cpuCost`, `gpuCost`, `ramCost`, `pvCost`, `networkCost`,
//! `loadBalancerCost` when it has no total). The idle allocation (`__idle__`) goes by the
//! cluster's policy (clusters.toml): to its owner (`owner`), unallocated with the reason "idle
//! capacity of cluster X" (`unallocated`), or spread over the teams with the rest
//! (`proportional`).

use std::path::Path;

use chrono::{DateTime, NaiveDate};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::Ownership;
use super::clusters::IdlePolicy;
use super::rules::{LineView, Scratch};
use crate::money;

/// One allocation of the export.
#[derive(Debug, Clone)]
pub struct Row {
    pub line: usize,
    pub date: NaiveDate,
    pub name: String,
    pub cluster: Option<String>,
    pub namespace: Option<String>,
    pub controller: Option<String>,
    pub labels: Vec<(String, String)>,
    /// At the money scale.
    pub cost: i128,
}

const IDLE: &str = "__idle__";
const COST_PARTS: [&str; 6] = ["cpuCost", "gpuCost", "ramCost", "pvCost", "networkCost", "loadBalancerCost"];

/// Every row of the export at `path` (`.parquet`, else CSV).
pub fn read(path: &Path) -> Result<Vec<Row>, String> {
    let shown = path.display().to_string();
    let table = if path.extension().is_some_and(|e| e == "parquet") {
        read_parquet(path).map_err(|e| format!("telemetry {shown}: {e}"))?
    } else {
        read_csv(path).map_err(|e| format!("telemetry {shown}: {e}"))?
    };
    let (header, cells) = table;
    let column = |names: &[&str]| names.iter().find_map(|n| header.iter().position(|h| h == n));
    let start =
        column(&["window.start", "start"]).ok_or_else(|| format!("telemetry {shown}: no `window.start` column"))?;
    let total = column(&["totalCost"]);
    let parts: Vec<usize> = COST_PARTS.iter().filter_map(|c| column(&[c])).collect();
    if total.is_none() && parts.is_empty() {
        return Err(format!("telemetry {shown}: no `totalCost` column (nor cpuCost, ramCost...)"));
    }
    let (name, cluster, namespace, controller) = (
        column(&["name"]),
        column(&["properties.cluster", "cluster"]),
        column(&["properties.namespace", "namespace"]),
        column(&["properties.controller", "controller"]),
    );
    let labels: Vec<(usize, String)> = header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| Some((i, h.strip_prefix("properties.labels.")?.to_string())))
        .collect();
    let mut rows = Vec::new();
    for (index, record) in cells.iter().enumerate() {
        let line = index + 2;
        let cell = |at: Option<usize>| at.and_then(|i| record[i].clone()).filter(|v| !v.is_empty());
        let when = cell(Some(start)).unwrap_or_default();
        let date = DateTime::parse_from_rfc3339(&when)
            .map(|t| t.date_naive())
            .or_else(|_| NaiveDate::parse_from_str(when.get(..10).unwrap_or(""), "%Y-%m-%d"))
            .map_err(|_| format!("telemetry {shown}:{line}: field window.start: {when:?} is not a time"))?;
        let amount = |at: usize| -> Result<i128, String> {
            match &record[at] {
                None => Ok(0),
                Some(text) if text.is_empty() => Ok(0),
                Some(text) => money::parse(text)
                    .map(|p| p.value)
                    .map_err(|e| format!("telemetry {shown}:{line}: field {}: {e}", header[at])),
            }
        };
        let cost = match total {
            Some(at) => amount(at)?,
            None => parts.iter().map(|at| amount(*at)).sum::<Result<i128, String>>()?,
        };
        if cost < 0 {
            return Err(format!("telemetry {shown}:{line}: a negative cost"));
        }
        rows.push(Row {
            line,
            date,
            name: cell(name).unwrap_or_default(),
            cluster: cell(cluster),
            namespace: cell(namespace),
            controller: cell(controller),
            labels: labels.iter().filter_map(|(i, key)| Some((key.clone(), cell(Some(*i))?))).collect(),
            cost,
        });
    }
    Ok(rows)
}

type Cells = (Vec<String>, Vec<Vec<Option<String>>>);

fn read_csv(path: &Path) -> Result<Cells, String> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| e.to_string())?;
    let header: Vec<String> =
        reader.headers().map_err(|e| e.to_string())?.iter().map(|h| h.trim().to_string()).collect();
    let mut cells = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        cells.push((0..header.len()).map(|i| record.get(i).map(|v| v.trim().to_string())).collect());
    }
    Ok((header, cells))
}

/// Parquet: every column as text (doubles print as their shortest decimal, timestamps RFC 3339).
fn read_parquet(path: &Path) -> Result<Cells, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| e.to_string())?
        .build()
        .map_err(|e| e.to_string())?;
    let mut header = Vec::new();
    let mut cells = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        header = batch.schema().fields().iter().map(|f| f.name().to_string()).collect();
        let columns: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| cast(c, &DataType::Utf8).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        for row in 0..batch.num_rows() {
            cells.push(
                columns
                    .iter()
                    .map(|c| {
                        let text = c.as_string::<i32>();
                        (!text.is_null(row)).then(|| text.value(row).to_string())
                    })
                    .collect(),
            );
        }
    }
    Ok((header, cells))
}

/// Each day's and month's cost per team: the rules decide each row (idle by the cluster's
/// policy); a row the rules give to no team (a pool, or unallocated) is left out, so the teams
/// that are named share its part.
pub fn units(rows: &[Row], ownership: &Ownership) -> super::pools::Telemetry {
    let (mut daily, mut monthly): super::pools::Telemetry = Default::default();
    let mut scratch = Scratch::default();
    for row in rows {
        let team = if row.name == IDLE || row.namespace.as_deref() == Some(IDLE) {
            let cluster = ownership.clusters.get(row.cluster.as_deref().unwrap_or(""));
            let name = row.cluster.as_deref().unwrap_or("(unnamed)");
            match (cluster.idle, &cluster.owner) {
                (IdlePolicy::Owner, Some(owner)) => Some(owner.clone()),
                (IdlePolicy::Unallocated, _) => {
                    Some(format!("{}idle capacity of cluster {name}", super::pools::UNALLOCATED_KEY))
                }
                _ => None,
            }
        } else {
            let labels: Vec<(&str, &str)> = row.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let view = LineView {
                cluster: row.cluster.as_deref(),
                namespace: row.namespace.as_deref(),
                workload: row.controller.as_deref(),
                tags: ownership.rules.canonical_tags(labels.into_iter()),
                date: row.date,
                ..LineView::default()
            };
            match ownership.rules.decide(&view, &ownership.org, &mut scratch) {
                super::rules::Decision::Team { team, .. } => Some(team),
                _ => None,
            }
        };
        if let Some(team) = team {
            *daily.entry(row.date).or_default().entry(team.clone()).or_default() += row.cost;
            *monthly.entry(row.date.format("%Y-%m").to_string()).or_default().entry(team).or_default() += row.cost;
        }
    }
    (daily, monthly)
}
