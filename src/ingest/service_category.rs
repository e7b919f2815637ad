//! Provider service -> FOCUS ServiceCategory, from the FinOps Foundation's
//! focus_converters tables (compiled in: see `reference/README.md`).

use std::collections::HashMap;
use std::sync::LazyLock;

fn load(csv_text: &'static str) -> HashMap<String, &'static str> {
    csv_text
        .lines()
        .skip(1)
        .filter_map(|line| line.rsplit_once(','))
        .map(|(service, category)| (service.trim().to_ascii_lowercase(), category.trim()))
        .collect()
}

static AWS: LazyLock<HashMap<String, &'static str>> =
    LazyLock::new(|| load(include_str!("reference/aws_category_mapping.csv")));
static AZURE: LazyLock<HashMap<String, &'static str>> =
    LazyLock::new(|| load(include_str!("reference/azure_category_mapping.csv")));
static GCP: LazyLock<HashMap<String, &'static str>> =
    LazyLock::new(|| load(include_str!("reference/gcp_category_mapping.csv")));

/// By AWS product code, e.g. `AmazonEC2` -> `Compute`.
pub fn aws(product_code: &str) -> Option<&'static str> {
    AWS.get(&product_code.to_ascii_lowercase()).copied()
}

/// By Azure consumed service, e.g. `microsoft.compute` -> `Compute`.
pub fn azure(consumed_service: &str) -> Option<&'static str> {
    AZURE.get(&consumed_service.to_ascii_lowercase()).copied()
}

/// By GCP service description, e.g. `Compute Engine` -> `Compute`.
pub fn gcp(service: &str) -> Option<&'static str> {
    GCP.get(&service.to_ascii_lowercase()).copied()
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_services() {
        assert_eq!(super::aws("AmazonEC2"), Some("Compute"));
        assert_eq!(super::aws("AmazonS3"), Some("Storage"));
        assert_eq!(super::aws("NoSuchThing"), None);
    }
}
