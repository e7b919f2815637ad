//! Which deliveries of one listed prefix to download: the current manifest of
//! each report and billing period (see [`super::manifest`]), less those
//! before `--since` and those the lake already holds.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use super::manifest::{self, Layout};
use super::s3::{Download, Skipped, get_small};
use super::s3_keys::{self, Bucket, Listing, Object};
use super::{IngestError, file_error};
use crate::lake::deliveries::DeliveryRecord;

/// One `s3://bucket/prefix` input being read.
pub(super) struct Prefix<'a> {
    /// The input as given.
    pub input: &'a str,
    pub bucket: &'a Bucket,
    /// The bucket's name.
    pub name: &'a str,
    pub since: Option<&'a str>,
}

/// What to download from one prefix, and what was skipped.
#[derive(Default)]
pub(super) struct Selected {
    pub skipped: Vec<Skipped>,
    pub downloads: Vec<Download>,
    pub deliveries: Vec<DeliveryRecord>,
    /// The `s3://` names of each delivery's data files, in the order of `deliveries`.
    pub delivery_files: Vec<Vec<String>>,
}

impl Prefix<'_> {
    /// The deliveries to download from `listing`, given the lake's `known`
    /// ones. `None` when the listing did not tell keys starting with `/`
    /// apart and something here needs them told apart: a manifest that is
    /// not at its key without the `/`, or a manifest listing `/` keys.
    pub async fn select(
        &self,
        listing: &Listing,
        known: &HashMap<(String, String), DeliveryRecord>,
    ) -> Result<Option<Selected>, IngestError> {
        let name = self.name;
        let current = current_manifests(&listing.objects);
        if current.is_empty() {
            return Err(file_error(
                self.input,
                format!(
                    "no AWS billing manifest under this prefix ({} object(s) listed). tally looks for legacy CUR \
                     <report>/<yyyymmdd-yyyymmdd>/<report>-Manifest.json and CUR 2.0 \
                     <export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json; point it at the bucket, \
                     the report's prefix or a folder above it",
                    listing.objects.len()
                ),
            ));
        }
        let objects: HashMap<&str, &Object> = listing.objects.iter().map(|o| (o.key.as_str(), o)).collect();
        let mut selected = Selected::default();
        for ((report_dir, period), (layout, manifest_object)) in &current {
            let report = format!("s3://{name}/{report_dir}");
            let skip = |reason: String| Skipped { report: report.clone(), billing_period: period.clone(), reason };
            if let Some(since) = self.since.filter(|since| period.as_str() < *since) {
                selected.skipped.push(skip(format!("before --since {since}")));
                continue;
            }
            let manifest_meta = &manifest_object.meta;
            let manifest_url = format!("s3://{name}/{}", manifest_object.key);
            let etag = manifest_meta.e_tag.clone().unwrap_or_default();
            // A delivery whose rows a later --since left out (or any, with none now) has rows wanted now.
            let previous = known
                .get(&(report.clone(), period.clone()))
                .filter(|p| p.since.is_empty() || self.since.is_some_and(|since| since >= p.since.as_str()));
            // An unchanged manifest ETag means an unchanged manifest: no need to read it.
            if let Some(previous) = previous.filter(|p| !etag.is_empty() && p.manifest_etag == etag) {
                selected.skipped.push(skip(unchanged(*layout, previous)));
                continue;
            }
            let store = self.bucket.store_for(&manifest_object.key);
            let json = match get_small(&store, manifest_meta).await {
                Err(object_store::Error::NotFound { .. }) if !listing.slash_keys_told_apart => return Ok(None),
                read => {
                    read.map_err(|e| file_error(&manifest_url, format!("read failed: {}", super::s3::describe(&e))))?
                }
            };
            let parsed = manifest::parse(*layout, &json, name).map_err(|e| file_error(&manifest_url, e))?;
            if parsed.period != *period {
                return Err(file_error(
                    &manifest_url,
                    format!("billingPeriod.start is in {}, but the manifest sits under {period}", parsed.period),
                ));
            }
            if let Some(previous) = previous.filter(|p| p.delivery_id == parsed.id && p.manifest_etag == etag) {
                selected.skipped.push(skip(unchanged(*layout, previous)));
                continue;
            }
            if parsed.keys.is_empty() {
                selected.skipped.push(skip(format!("{} {} lists no data files", layout.id_name(), parsed.id)));
                continue;
            }
            if !listing.slash_keys_told_apart && parsed.keys.iter().any(|k| k.starts_with('/')) {
                return Ok(None);
            }
            let mut bytes = 0;
            let mut names = Vec::new();
            for key in &parsed.keys {
                let object = s3_keys::find(&objects, key).ok_or_else(|| {
                    let bare = key.strip_prefix('/').map(|bare| format!(" nor s3://{name}/{bare}")).unwrap_or_default();
                    file_error(
                        &manifest_url,
                        format!(
                            "lists s3://{name}/{key}, which is not in the bucket{bare} (deleted by a lifecycle \
                             rule, or outside the listed prefix {}?)",
                            self.input
                        ),
                    )
                })?;
                if object.key != *key {
                    tracing::warn!(
                        "{manifest_url} lists s3://{name}/{key}, which is not in the bucket: reading \
                         s3://{name}/{}, the same key without its leading /",
                        object.key
                    );
                }
                bytes += object.meta.size;
                names.push(format!("s3://{name}/{}", object.key));
                selected.downloads.push(Download {
                    store: self.bucket.store_for(&object.key),
                    meta: object.meta.clone(),
                    name: format!("s3://{name}/{}", object.key),
                    key: object.key.clone(),
                    local: PathBuf::new(),
                });
            }
            tracing::info!(
                "downloading {report} {period}: {} {}, {} file(s), {bytes} bytes",
                layout.id_name(),
                parsed.id,
                parsed.keys.len()
            );
            selected.deliveries.push(DeliveryRecord {
                report: report.clone(),
                layout: layout.name().to_string(),
                billing_period: period.clone(),
                delivery_id: parsed.id,
                manifest: manifest_url,
                manifest_etag: etag,
                files: parsed.keys.len() as u64,
                bytes,
                ..Default::default()
            });
            selected.delivery_files.push(names);
        }
        Ok(Some(selected))
    }
}

fn unchanged(layout: Layout, previous: &DeliveryRecord) -> String {
    let at = chrono::DateTime::from_timestamp_micros(previous.ingested_at_micros).unwrap_or_default();
    format!(
        "{} {} unchanged (manifest ETag {}), ingested {} by run {}",
        layout.id_name(),
        previous.delivery_id,
        previous.manifest_etag,
        at.format("%Y-%m-%d %H:%M UTC"),
        previous.run_id
    )
}

/// The current manifest of each (report folder, billing period).
fn current_manifests(listing: &[Object]) -> BTreeMap<(String, String), (Layout, Object)> {
    let mut current: BTreeMap<(String, String), (Layout, Object)> = BTreeMap::new();
    for object in listing {
        let Some(key) = manifest::classify(&object.key) else {
            continue;
        };
        let slot = (key.report_dir, key.period);
        // Data Exports "create new" keeps one manifest per execution: the latest is current.
        let meta = &object.meta;
        let newer = |(_, seen): &(Layout, Object)| {
            (meta.last_modified, object.key.as_str()) > (seen.meta.last_modified, seen.key.as_str())
        };
        if current.get(&slot).is_none_or(newer) {
            current.insert(slot, (key.layout, object.clone()));
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use object_store::ObjectMeta;
    use object_store::path::Path as ObjectPath;

    use super::*;

    #[test]
    fn the_latest_cur2_manifest_of_a_period_is_current() {
        let object = |key: &str, minute: u32| Object {
            key: key.to_string(),
            meta: ObjectMeta {
                location: ObjectPath::parse(key).unwrap(),
                last_modified: chrono::DateTime::from_timestamp(1_700_000_000 + 60 * minute as i64, 0).unwrap(),
                size: 1,
                e_tag: None,
                version: None,
            },
        };
        let listing = [
            object("x/cur2/metadata/BILLING_PERIOD=2025-01/e1/cur2-Manifest.json", 2),
            object("x/cur2/metadata/BILLING_PERIOD=2025-01/e2/cur2-Manifest.json", 1),
            object("x/cur2/data/BILLING_PERIOD=2025-01/e1/cur2-00001.csv.gz", 3),
            object("x/daily/20231101-20231201/daily-Manifest.json", 0),
            object("x/daily/20231101-20231201/a1/daily-Manifest.json", 5),
            // A report created without a prefix: its keys start with `/`.
            object("/daily/20231101-20231201/daily-Manifest.json", 0),
        ];
        let current = current_manifests(&listing);
        let keys: Vec<(&str, &str, &str)> =
            current.iter().map(|((dir, period), (_, o))| (dir.as_str(), period.as_str(), o.key.as_str())).collect();
        assert_eq!(
            keys,
            vec![
                ("/daily", "2023-11", "/daily/20231101-20231201/daily-Manifest.json"),
                ("x/cur2", "2025-01", "x/cur2/metadata/BILLING_PERIOD=2025-01/e1/cur2-Manifest.json"),
                ("x/daily", "2023-11", "x/daily/20231101-20231201/daily-Manifest.json"),
            ]
        );
    }
}
