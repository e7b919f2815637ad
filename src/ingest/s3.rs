//! `tally ingest s3://bucket/prefix`: find the current AWS deliveries under a
//! prefix, skip the ones already in the lake, and download the rest into the
//! lake's staging area, where the local pipeline reads them like any file
//! (named by their `s3://` URL in the lake).
//!
//! Only what a manifest lists is read (see [`super::manifest`]), so stale
//! assemblies and half-written deliveries never reach the lake. Downloads are
//! streamed to disk (memory stays bounded whatever the file size) and pinned to
//! the ETag seen when listing, so a file AWS rewrites mid-run fails the run
//! instead of mixing two deliveries.
//!
//! Keys are requested exactly as S3 holds them, leading `/` included (see
//! [`super::s3_keys`]); which deliveries to read is [`super::s3_select`]'s.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientConfigKey, ClientOptions, GetOptions, ObjectMeta, ObjectStore, RetryConfig};

use super::s3_keys::{self, Bucket, Listing};
use super::s3_select;
use super::{IngestError, file_error};
use crate::lake::Lake;
use crate::lake::deliveries::{self, DeliveryRecord};

/// Files downloaded at once: enough to fill a link, few enough to be polite.
const PARALLEL_DOWNLOADS: usize = 4;

#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// An S3-compatible endpoint instead of AWS (`--s3-endpoint`).
    pub endpoint: Option<String>,
}

pub fn is_s3_url(input: &str) -> bool {
    input.starts_with("s3://")
}

/// A delivery that was not downloaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// `s3://bucket/<prefix>/<report>`.
    pub report: String,
    pub billing_period: String,
    pub reason: String,
}

/// What [`fetch`] downloaded. The staging folder is removed when this is dropped.
#[derive(Debug)]
pub struct Fetched {
    /// Local copy and `s3://` name of each data file, sorted by name.
    pub files: Vec<(PathBuf, String)>,
    /// The deliveries downloaded, to be recorded once the run commits.
    pub deliveries: Vec<DeliveryRecord>,
    /// The `s3://` names of each delivery's data files, in the order of `deliveries`.
    pub delivery_files: Vec<Vec<String>>,
    pub skipped: Vec<Skipped>,
    dir: PathBuf,
}

impl Drop for Fetched {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A data file to download.
pub(super) struct Download {
    pub store: Arc<AmazonS3>,
    pub meta: ObjectMeta,
    /// `s3://bucket/key`.
    pub name: String,
    /// The key as S3 holds it.
    pub key: String,
    pub local: PathBuf,
}

/// Lists each `s3://bucket/prefix`, picks the current delivery of every
/// report and billing period under it (from `since` on), and downloads those
/// that are new or changed since the lake last ingested them.
pub async fn fetch(
    lake: &Lake,
    inputs: &[String],
    options: &S3Options,
    since: Option<&str>,
) -> Result<Fetched, IngestError> {
    let state_dir = lake.table_dir(crate::lake::S3_DELIVERIES);
    let known = deliveries::latest(lake)
        .map_err(|source| IngestError::Lake { path: state_dir.display().to_string(), source })?;
    let dir = lake.staging_dir(&format!("s3-{}", std::process::id()));
    let mut fetched =
        Fetched { files: Vec::new(), deliveries: Vec::new(), delivery_files: Vec::new(), skipped: Vec::new(), dir };
    let mut buckets: HashMap<String, Arc<Bucket>> = HashMap::new();
    let mut downloads = Vec::new();

    for input in inputs {
        let (name, prefix) = parse_url(input).map_err(|e| file_error(input, e))?;
        let bucket = match buckets.get(&name) {
            Some(bucket) => Arc::clone(bucket),
            None => {
                let builder = store_builder(&name, options).await.map_err(|e| file_error(input, e))?;
                let bucket = Arc::new(Bucket::new(&builder).map_err(|e| file_error(input, describe(&e)))?);
                buckets.insert(name.clone(), Arc::clone(&bucket));
                bucket
            }
        };
        let prefix_of = s3_select::Prefix { input, bucket: &bucket, name: &name, since };
        // The whole bucket is first listed without telling `/x` from `x`; a sign of keys
        // starting with `/` has it listed again, telling them apart (see s3_keys).
        let mut listing = list(&bucket, &name, &prefix, false).await?;
        let selected = loop {
            match prefix_of.select(&listing, &known).await? {
                Some(selected) => break selected,
                None => listing = list(&bucket, &name, &prefix, true).await?,
            }
        };
        fetched.skipped.extend(selected.skipped);
        fetched.deliveries.extend(selected.deliveries);
        fetched.delivery_files.extend(selected.delivery_files);
        downloads.extend(selected.downloads);
    }
    warn_about_shared_periods(&fetched.deliveries);

    downloads.sort_by(|a, b| a.name.cmp(&b.name));
    downloads.dedup_by(|a, b| a.name == b.name);
    for (index, d) in downloads.iter_mut().enumerate() {
        d.local = s3_keys::staging_path(&fetched.dir, index, &d.key).map_err(|e| file_error(&d.name, e))?;
    }
    fetched.files = downloads.iter().map(|d| (d.local.clone(), d.name.clone())).collect();
    futures::stream::iter(downloads.into_iter().map(download))
        .buffer_unordered(PARALLEL_DOWNLOADS)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(fetched)
}

/// Two reports delivering the same month would add up if they cover the same
/// payer account; tally cannot tell before reading them, so it says so.
fn warn_about_shared_periods(deliveries: &[DeliveryRecord]) {
    let mut reports: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for d in deliveries {
        reports.entry(&d.billing_period).or_default().push(&d.report);
    }
    for (period, reports) in reports.iter().filter(|(_, r)| r.len() > 1) {
        tracing::warn!(
            "{period} is delivered by {} reports ({}); if they cover the same payer account their rows add up. \
             Point tally at one report's prefix",
            reports.len(),
            reports.join(", ")
        );
    }
}

/// `s3://bucket/some/prefix/` -> (`bucket`, `some/prefix`).
pub(crate) fn parse_url(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("s3://").ok_or("not an s3:// URL")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err("no bucket name: use s3://bucket/prefix".to_string());
    }
    if prefix.contains(['*', '?', '[']) {
        return Err("globs are not supported in s3:// URLs; give the report's prefix".to_string());
    }
    Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
}

/// An S3 client for `bucket`, configured as the AWS CLI would be from the
/// environment (see README: credentials), pointed at `--s3-endpoint` if given.
pub(crate) async fn build_store(bucket: &str, options: &S3Options) -> Result<AmazonS3, String> {
    store_builder(bucket, options).await?.build().map_err(|e| describe(&e))
}

/// The configuration [`build_store`] builds.
async fn store_builder(bucket: &str, options: &S3Options) -> Result<AmazonS3Builder, String> {
    let retry = RetryConfig {
        // Few, quick retries: a cron job should fail fast and clearly, and run again tomorrow.
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            base: 2.,
        },
        max_retries: 4,
        retry_timeout: Duration::from_secs(120),
    };
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(retry)
        // The per-request limit also bounds a download's body; a CUR file can be gigabytes.
        .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), "10 minutes");
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut region_known = env("AWS_REGION").is_some() || env("AWS_DEFAULT_REGION").is_some();
    if let Some(profile) = super::s3_credentials::from_profile().await? {
        tracing::debug!("S3 credentials from the AWS profile {}", profile.name);
        builder = builder.with_credentials(profile.credentials);
        if let Some(region) = profile.region.filter(|_| !region_known) {
            builder = builder.with_region(region);
            region_known = true;
        }
    }
    let endpoint = options
        .endpoint
        .clone()
        .or_else(|| ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"].into_iter().find_map(env));
    match endpoint {
        Some(endpoint) => {
            let (scheme, host) = endpoint
                .split_once("://")
                .map(|(s, rest)| (s.to_ascii_lowercase(), rest.split('/').next().unwrap_or("")))
                .ok_or_else(|| format!("--s3-endpoint {endpoint:?} is not a URL (http://host:port or https://host)"))?;
            if scheme == "http" {
                if is_loopback(host) {
                    builder = builder.with_allow_http(true);
                } else if !env("AWS_ALLOW_HTTP").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
                    return Err(format!(
                        "refusing plain http to {host}: credentials and billing data would cross the network \
                         unencrypted. Use https, or set AWS_ALLOW_HTTP=true if you must"
                    ));
                }
            } else if scheme != "https" {
                return Err(format!("--s3-endpoint {endpoint:?}: the scheme must be http or https"));
            }
            builder = builder.with_endpoint(endpoint);
        }
        None if !region_known => {
            // Without a region, ask S3 where the bucket lives (an anonymous HEAD).
            match object_store::aws::resolve_bucket_region(bucket, &ClientOptions::new()).await {
                Ok(region) => builder = builder.with_region(region),
                Err(e) => tracing::debug!("could not resolve the region of bucket {bucket}: {e}; using us-east-1"),
            }
        }
        None => {}
    }
    Ok(builder)
}

/// `127.0.0.1:5000`, `localhost`, `[::1]:9000`.
fn is_loopback(host_port: &str) -> bool {
    let host = match host_port.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host_port.rsplit_once(':').map_or(host_port, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

async fn list(bucket: &Bucket, name: &str, prefix: &str, slash_keys: bool) -> Result<Listing, IngestError> {
    let url = if prefix.is_empty() { format!("s3://{name}") } else { format!("s3://{name}/{prefix}") };
    if !prefix.is_empty() {
        ObjectPath::parse(prefix).map_err(|e| file_error(&url, format!("not a valid S3 prefix: {e}")))?;
    }
    bucket.list(prefix, slash_keys).await.map_err(|e| file_error(&url, format!("listing failed: {}", describe(&e))))
}

/// Reads a manifest (small) into memory, pinned to the listed ETag.
pub(super) async fn get_small(store: &AmazonS3, meta: &ObjectMeta) -> object_store::Result<Vec<u8>> {
    let options = GetOptions { if_match: meta.e_tag.clone(), ..Default::default() };
    Ok(store.get_opts(&meta.location, options).await?.bytes().await?.to_vec())
}

/// Streams one object to its staging path, pinned to the listed ETag.
async fn download(d: Download) -> Result<(), IngestError> {
    let fail = |message: String| file_error(&d.name, format!("download failed: {message}"));
    let io = |e: std::io::Error| file_error(&d.name, format!("writing {}: {e}", d.local.display()));
    let options = GetOptions { if_match: d.meta.e_tag.clone(), ..Default::default() };
    let result = d.store.get_opts(&d.meta.location, options).await.map_err(|e| fail(describe(&e)))?;
    std::fs::create_dir_all(d.local.parent().unwrap_or(Path::new("."))).map_err(io)?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(&d.local).map_err(io)?);
    let mut stream = result.into_stream();
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| fail(describe(&e)))?;
        file.write_all(&chunk).map_err(io)?;
        written += chunk.len() as u64;
    }
    file.flush().map_err(io)?;
    if written != d.meta.size {
        return Err(fail(format!("received {written} of {} bytes", d.meta.size)));
    }
    tracing::debug!("downloaded {} ({written} bytes)", d.name);
    Ok(())
}

/// An object_store error with its causes, and a hint for the usual suspects.
pub(crate) fn describe(e: &object_store::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text = format!("{text}: {message}");
        }
        source = cause.source();
    }
    let hint = if ["InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"]
        .iter()
        .any(|c| text.contains(c))
    {
        " (the credentials were refused: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, \
         or the web identity / instance role tally found; see the README's S3 section)"
    } else if text.contains("NoSuchBucket") {
        " (the bucket does not exist, or not at this endpoint)"
    } else if text.contains("AccessDenied") || text.contains("403 Forbidden") {
        " (access denied: the credentials need s3:ListBucket on the bucket and s3:GetObject on the report's keys)"
    } else if text.contains("error sending request") || text.contains("onnect") {
        " (the S3 endpoint could not be reached)"
    } else {
        ""
    };
    format!("{text}{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls() {
        assert_eq!(parse_url("s3://billing").unwrap(), ("billing".into(), "".into()));
        assert_eq!(parse_url("s3://billing/cur/daily/").unwrap(), ("billing".into(), "cur/daily".into()));
        assert!(parse_url("s3:///cur").unwrap_err().contains("no bucket"));
        assert!(parse_url("s3://b/cur/*.gz").unwrap_err().contains("globs"));
    }

    #[test]
    fn loopback_hosts() {
        for host in ["127.0.0.1:5000", "localhost", "LOCALHOST:9000", "[::1]:9000", "127.1.2.3"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["10.0.0.1:9000", "minio.internal", "[2001:db8::1]:80", "localhost.evil.com"] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
