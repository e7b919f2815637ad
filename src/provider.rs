//! One id per cloud, whatever the export kind calls it.
//!
//! A native Azure export and Azure's FOCUS export ("Microsoft"), the GCP
//! billing export and GCP's FOCUS view ("Google Cloud"), AWS's CUR and its
//! FOCUS export all name their cloud differently. The lake's `provider=`
//! partition, the `provider` column of `attributed` and the unit of
//! replacement use the id below, so one cloud's month and billing account is
//! one unit, and a query on `provider = 'azure'` sees every Azure row. The
//! provider's own spelling stays in the FOCUS `ProviderName` column.

/// The canonical ids of the clouds tally knows by name, with the provider
/// names (as slugs, see [`slug`]) that mean each.
const KNOWN: &[(&str, &[&str])] = &[
    ("aws", &["aws", "amazon", "amazon-web-services", "amazon-web-services-inc", "amazon-aws"]),
    ("azure", &["azure", "microsoft", "microsoft-azure", "microsoft-corporation", "microsoft-corp"]),
    ("gcp", &["gcp", "google", "google-cloud", "google-cloud-platform", "google-llc"]),
    ("oci", &["oci", "oracle", "oracle-cloud", "oracle-cloud-infrastructure", "oracle-corporation"]),
];

/// The id tally files a provider's line items under. A name of a known cloud
/// (any case or punctuation: `Microsoft`, `Microsoft Azure`, `AZURE`) gives its
/// id (`azure`); any other name gives its slug (`Datadog, Inc.` ->
/// `datadog-inc`); no name gives `unknown`.
pub fn canonical_id(provider_name: Option<&str>) -> String {
    let Some(slug) = provider_name.map(slug).filter(|s| !s.is_empty()) else {
        return "unknown".to_string();
    };
    match KNOWN.iter().find(|(_, names)| names.contains(&slug.as_str())) {
        Some((id, _)) => id.to_string(),
        None => slug,
    }
}

/// Lowercase ASCII letters and digits, every other run of characters one `-`.
fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::canonical_id;

    #[test]
    fn every_spelling_of_a_cloud_is_one_id() {
        for (name, id) in [
            ("AWS", "aws"),
            ("Amazon Web Services", "aws"),
            ("Microsoft", "azure"),
            ("Microsoft Azure", "azure"),
            ("azure", "azure"),
            ("Google Cloud", "gcp"),
            ("Google", "gcp"),
            ("Oracle", "oci"),
            ("Oracle Cloud Infrastructure", "oci"),
        ] {
            assert_eq!(canonical_id(Some(name)), id, "{name}");
        }
    }

    #[test]
    fn other_names_are_slugs() {
        assert_eq!(canonical_id(Some("Datadog, Inc.")), "datadog-inc");
        assert_eq!(canonical_id(Some("  ")), "unknown");
        assert_eq!(canonical_id(Some("../x")), "x");
        assert_eq!(canonical_id(None), "unknown");
    }
}
