//! S3 object keys exactly as the bucket holds them.
//!
//! object_store's `Path` drops a key's leading `/` (and refuses empty
//! segments), but a legacy CUR report created without a report path prefix
//! is delivered under keys that start with `/`
//! (`/daily/20190501-20190601/daily-Manifest.json`), and its manifest lists
//! keys that start with `/`. `/daily/x` and `daily/x` are two objects, so
//! tally keeps the key as S3 wrote it ([`Object::key`]) and reads a `/` key
//! through a second client whose bucket URL ends in `/` ([`Bucket::store_for`]).
//! Staging paths are made from the key's file name alone ([`staging_path`]),
//! so no key can place a file outside staging.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore};

/// An object with its key as S3 holds it (`meta.location` is the key
/// without a leading `/`, as object_store requests it).
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub key: String,
    pub meta: ObjectMeta,
}

/// A bucket's two clients: `plain` for keys as object_store writes them,
/// `rooted` for keys that start with `/`.
pub(crate) struct Bucket {
    plain: Arc<AmazonS3>,
    rooted: Arc<AmazonS3>,
}

impl Bucket {
    /// Both clients from one configured builder.
    pub(crate) fn new(builder: &AmazonS3Builder) -> Result<Bucket, object_store::Error> {
        Ok(Bucket { plain: Arc::new(builder.clone().build()?), rooted: Arc::new(rooted(builder).build()?) })
    }

    /// The client that reads `key` exactly: object_store requests
    /// `<bucket URL>/<location>`, so for a key `/x` (location `x`) the
    /// rooted client, whose bucket URL ends in `/`, asks for `<bucket URL>//x`.
    pub(crate) fn store_for(&self, key: &str) -> Arc<AmazonS3> {
        Arc::clone(if key.starts_with('/') { &self.rooted } else { &self.plain })
    }

    /// Every object under `prefix` (`""`: the whole bucket): `prefix/...`
    /// and `/prefix/...` alike.
    ///
    /// S3 returns a key `/x` as `/x`, but object_store's listing turns it into
    /// the location `x`, the same as the key `x`. So the keys starting with `/`
    /// are listed on their own (a raw prefix `/` or `/prefix/`) and, for the
    /// whole bucket, whose listing holds both kinds, taken out of it. For the
    /// whole bucket that second listing waits for `slash_keys` (a sign that
    /// the bucket has such keys), as the first listing alone has none of the
    /// `/` that moto's signature check (at least) gets wrong in a query.
    pub(crate) async fn list(&self, prefix: &str, slash_keys: bool) -> Result<Listing, object_store::Error> {
        let location = if prefix.is_empty() { None } else { Some(ObjectPath::parse(prefix)?) };
        let mut plain: Vec<ObjectMeta> = self.plain.list(location.as_ref()).try_collect().await?;
        let told_apart = slash_keys || !prefix.is_empty() || has_repeats(&plain);
        let mut rooted = Vec::new();
        if told_apart {
            rooted =
                list_raw(&self.plain, &if prefix.is_empty() { "/".to_string() } else { format!("/{prefix}/") }).await?;
            if prefix.is_empty() {
                plain = without(plain, &rooted);
            }
        }
        let plain = plain.into_iter().map(|meta| Object { key: meta.location.to_string(), meta });
        let rooted = rooted.into_iter().map(|meta| Object { key: format!("/{}", meta.location), meta });
        Ok(Listing { objects: plain.chain(rooted).collect(), slash_keys_told_apart: told_apart })
    }
}

/// A listing, and whether it told keys starting with `/` apart. When it did
/// not (the whole bucket, listed once), every key is taken as written
/// without `/`.
pub(crate) struct Listing {
    pub objects: Vec<Object>,
    pub slash_keys_told_apart: bool,
}

/// Two entries with one location: keys `/x` and `x` both exist.
fn has_repeats(listing: &[ObjectMeta]) -> bool {
    let mut seen = std::collections::HashSet::new();
    !listing.iter().all(|m| seen.insert(&m.location))
}

/// The builder of the client for keys that start with `/`: the same
/// settings, with the bucket's own URL plus `/` as a virtual-hosted endpoint,
/// which object_store uses as given (path-style endpoints get `/<bucket>`
/// appended and trailing slashes trimmed). The URL is the one object_store
/// builds for the plain client; S3 Express zonal endpoints are left out, as
/// AWS does not deliver billing reports to directory buckets.
fn rooted(builder: &AmazonS3Builder) -> AmazonS3Builder {
    let value = |key: AmazonS3ConfigKey| builder.get_config_value(&key).filter(|v| !v.is_empty());
    let bucket = value(AmazonS3ConfigKey::Bucket).unwrap_or_default();
    let region = value(AmazonS3ConfigKey::Region).unwrap_or_else(|| "us-east-1".to_string());
    let virtual_hosted =
        value(AmazonS3ConfigKey::VirtualHostedStyleRequest).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let endpoint = value(AmazonS3ConfigKey::S3Endpoint).or_else(|| value(AmazonS3ConfigKey::Endpoint));
    let bucket_url = match (endpoint, virtual_hosted) {
        (Some(endpoint), true) => endpoint,
        (Some(endpoint), false) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
        (None, true) => format!("https://{bucket}.s3.{region}.amazonaws.com"),
        (None, false) => format!("https://s3.{region}.amazonaws.com/{bucket}"),
    };
    builder
        .clone()
        .with_config(AmazonS3ConfigKey::S3Endpoint, format!("{bucket_url}/"))
        .with_virtual_hosted_style_request(true)
}

/// Every object whose key starts with `prefix`, taken as is (object_store's
/// own listing adds a `/` to its prefix and cannot start one with `/`).
async fn list_raw(store: &AmazonS3, prefix: &str) -> Result<Vec<ObjectMeta>, object_store::Error> {
    let mut objects = Vec::new();
    let mut page_token = None;
    loop {
        let options = PaginatedListOptions { page_token, ..Default::default() };
        let page = store.list_paginated(Some(prefix), options).await?;
        objects.extend(page.result.objects);
        match page.page_token {
            Some(token) => page_token = Some(token),
            None => return Ok(objects),
        }
    }
}

/// `all` less one entry for each of `taken` (same location, size, ETag and
/// time: entries that equal in all of these are interchangeable).
fn without(all: Vec<ObjectMeta>, taken: &[ObjectMeta]) -> Vec<ObjectMeta> {
    type Identity = (String, u64, Option<String>, i64);
    let identity = |m: &ObjectMeta| -> Identity {
        (m.location.to_string(), m.size, m.e_tag.clone(), m.last_modified.timestamp_micros())
    };
    let mut left: HashMap<Identity, usize> = HashMap::new();
    for meta in taken {
        *left.entry(identity(meta)).or_default() += 1;
    }
    all.into_iter()
        .filter(|meta| match left.get_mut(&identity(meta)) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .collect()
}

/// The object a manifest's key names: the key as written or, for a key
/// written with a leading `/` that no object has, the same key without it
/// (a report that gained a prefix-less layout in its manifest only).
pub(crate) fn find<'a>(objects: &HashMap<&str, &'a Object>, key: &str) -> Option<&'a Object> {
    objects.get(key).or_else(|| key.strip_prefix('/').and_then(|bare| objects.get(bare))).copied()
}

/// Where the `index`th download of a run goes: `<dir>/<index>/<file name>`.
/// Only the key's last segment is used, so neither `..`, empty segments nor
/// a leading `/` can place it outside `dir`, and two keys never share a path.
pub(crate) fn staging_path(dir: &Path, index: usize, key: &str) -> Result<PathBuf, String> {
    let name = key.rsplit('/').next().unwrap_or_default();
    if name.is_empty() || name == "." || name == ".." || name.contains('\\') || name.contains('\0') {
        return Err(format!("object key {key:?} does not end in a file name"));
    }
    Ok(dir.join(index.to_string()).join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(location: &str, etag: &str) -> ObjectMeta {
        ObjectMeta {
            location: ObjectPath::parse(location).unwrap(),
            last_modified: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            size: 1,
            e_tag: Some(etag.to_string()),
            version: None,
        }
    }

    #[test]
    fn staging_paths_stay_inside_staging_and_apart() {
        let dir = Path::new("/lake/_staging/s3-1");
        let path = staging_path(dir, 0, "/daily/20190501-20190601/a1/daily-1.csv.gz").unwrap();
        assert_eq!(path, Path::new("/lake/_staging/s3-1/0/daily-1.csv.gz"));
        assert_eq!(
            staging_path(dir, 1, "daily/20190501-20190601/a1/daily-1.csv.gz").unwrap().parent().unwrap(),
            dir.join("1")
        );
        for key in ["/", "", "a/", "a/..", "/..", "a/.", "..", "a\\..\\b"] {
            assert!(staging_path(dir, 0, key).is_err(), "{key:?}");
        }
        let odd = staging_path(dir, 2, "../../../etc/passwd").unwrap();
        assert!(odd.starts_with(dir), "{}", odd.display());
    }

    #[test]
    fn a_key_written_with_a_slash_falls_back_to_the_key_without_it() {
        let rooted = Object { key: "/daily/x.csv.gz".into(), meta: meta("daily/x.csv.gz", "r") };
        let plain = Object { key: "daily/y.csv.gz".into(), meta: meta("daily/y.csv.gz", "p") };
        let objects: HashMap<&str, &Object> = [(rooted.key.as_str(), &rooted), (plain.key.as_str(), &plain)].into();
        assert_eq!(find(&objects, "/daily/x.csv.gz").unwrap().key, "/daily/x.csv.gz");
        assert_eq!(find(&objects, "/daily/y.csv.gz").unwrap().key, "daily/y.csv.gz");
        assert_eq!(find(&objects, "daily/y.csv.gz").unwrap().key, "daily/y.csv.gz");
        assert!(find(&objects, "daily/x.csv.gz").is_none(), "a key written without / is read only as written");
    }

    #[test]
    fn the_bucket_listing_less_its_slash_keys_leaves_the_plain_ones() {
        // S3 holds `/a` (etag r), `a` (etag p) and `b`; object_store lists them as `a`, `a`, `b`.
        let all = vec![meta("a", "r"), meta("a", "p"), meta("b", "p")];
        let rooted = [meta("a", "r")];
        let left: Vec<_> = without(all, &rooted).into_iter().map(|m| (m.location.to_string(), m.e_tag)).collect();
        assert_eq!(left, vec![("a".to_string(), Some("p".to_string())), ("b".to_string(), Some("p".to_string()))]);
    }

    #[test]
    fn the_rooted_client_asks_for_the_bucket_url_plus_a_slash() {
        let value = |b: &AmazonS3Builder| b.get_config_value(&AmazonS3ConfigKey::S3Endpoint).unwrap();
        let base = AmazonS3Builder::new().with_bucket_name("billing").with_region("eu-west-1");
        assert_eq!(value(&rooted(&base)), "https://s3.eu-west-1.amazonaws.com/billing/");
        assert_eq!(
            value(&rooted(&base.clone().with_endpoint("http://127.0.0.1:9000/"))),
            "http://127.0.0.1:9000/billing/"
        );
        let hosted = base.clone().with_virtual_hosted_style_request(true);
        assert_eq!(value(&rooted(&hosted)), "https://billing.s3.eu-west-1.amazonaws.com/");
        let own = hosted.with_endpoint("https://billing.example.com");
        assert_eq!(value(&rooted(&own)), "https://billing.example.com/");
    }
}
