//! S3 credentials the way AWS users have them: a profile of `~/.aws/config`
//! and `~/.aws/credentials` (`AWS_PROFILE`, `AWS_CONFIG_FILE`,
//! `AWS_SHARED_CREDENTIALS_FILE`) with static keys, `credential_process`,
//! IAM Identity Center (`aws sso login`) or a role to assume, resolved by the
//! AWS SDK's own profile provider (`aws-config`) and handed to object_store.
//!
//! Keys in the environment, web identity (EKS, GitHub OIDC), ECS and EC2
//! instance roles stay with object_store's own providers, as before: the
//! profile is read only when no such keys are set and a config or
//! credentials file exists. The SDK's network calls (SSO, STS) go through
//! the reqwest + rustls client tally already builds, not a second TLS stack.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use aws_config::meta::region::ProvideRegion;
use aws_config::profile::{ProfileFileCredentialsProvider, ProfileFileRegionProvider};
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use object_store::CredentialProvider;
use object_store::aws::AwsCredential;
use tokio::sync::Mutex;

/// Credentials (and a region, when the profile names one) from the selected
/// profile, or `None` when object_store's own chain applies.
pub struct Profile {
    pub name: String,
    pub credentials: Arc<ProfileCredentials>,
    pub region: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The config and credentials files the AWS CLI would read.
fn profile_files() -> Vec<PathBuf> {
    let home = env("HOME").or_else(|| env("USERPROFILE")).map(PathBuf::from);
    let file =
        |var: &str, default: &str| env(var).map(PathBuf::from).or_else(|| home.as_ref().map(|h| h.join(default)));
    [file("AWS_CONFIG_FILE", ".aws/config"), file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials")]
        .into_iter()
        .flatten()
        .collect()
}

/// The selected profile's provider, when the environment leaves credentials to one.
pub async fn from_profile() -> Result<Option<Profile>, String> {
    let keys_in_env = env("AWS_ACCESS_KEY_ID").is_some()
        || env("AWS_WEB_IDENTITY_TOKEN_FILE").is_some()
        || env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
        || env("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some();
    if keys_in_env {
        return Ok(None);
    }
    let files: Vec<PathBuf> = profile_files().into_iter().filter(|f| f.is_file()).collect();
    let named = env("AWS_PROFILE");
    if files.is_empty() {
        return match named {
            Some(name) => Err(format!(
                "AWS_PROFILE={name}, but there is no AWS config or credentials file ({})",
                profile_files().iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
            )),
            None => Ok(None),
        };
    }
    let name = named.clone().unwrap_or_else(|| "default".to_string());
    let config = ProviderConfig::default().with_http_client(http::client());
    // The region signs the SDK's own calls (STS for a role, SSO): the
    // environment's, else the profile's.
    let region = match env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")) {
        Some(region) => Some(region),
        None => ProfileFileRegionProvider::builder()
            .configure(&config)
            .profile_name(&name)
            .build()
            .region()
            .await
            .map(|r| r.to_string()),
    };
    let config = config.with_region(region.clone().map(aws_config::Region::new));
    let provider = ProfileFileCredentialsProvider::builder().configure(&config).profile_name(&name).build();
    let credentials = Arc::new(ProfileCredentials { provider, cached: Mutex::new(None) });
    // Resolve once now: a missing profile or a failing credential_process is
    // named before anything is listed.
    match credentials.provider.provide_credentials().await {
        Ok(first) => *credentials.cached.lock().await = Some(first),
        Err(e) if named.is_none() && is_missing_profile(&e) => return Ok(None),
        Err(e) => {
            let shown: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            return Err(format!("AWS profile {name} ({}): {}", shown.join(", "), describe(&e)));
        }
    }
    Ok(Some(Profile { name, credentials, region }))
}

fn is_missing_profile(e: &aws_credential_types::provider::error::CredentialsError) -> bool {
    let text = describe(e);
    text.contains("not found") || text.contains("NoProfile") || text.contains("no profile")
}

/// The error and its causes, one line.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let shown = cause.to_string();
        if !text.contains(&shown) {
            text.push_str(": ");
            text.push_str(&shown);
        }
        source = cause.source();
    }
    text
}

/// The profile's credentials for object_store, cached until five minutes
/// before they expire (SSO and assumed-role credentials do).
#[derive(Debug)]
pub struct ProfileCredentials {
    provider: ProfileFileCredentialsProvider,
    cached: Mutex<Option<Credentials>>,
}

#[async_trait::async_trait]
impl CredentialProvider for ProfileCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let mut cached = self.cached.lock().await;
        let fresh =
            |c: &Credentials| c.expiry().is_none_or(|at| at > SystemTime::now() + std::time::Duration::from_secs(300));
        if !cached.as_ref().is_some_and(fresh) {
            let credentials = self
                .provider
                .provide_credentials()
                .await
                .map_err(|e| object_store::Error::Generic { store: "S3", source: describe(&e).into() })?;
            *cached = Some(credentials);
        }
        let c = cached.as_ref().expect("filled above");
        Ok(Arc::new(AwsCredential {
            key_id: c.access_key_id().to_string(),
            secret_key: c.secret_access_key().to_string(),
            token: c.session_token().map(str::to_string),
        }))
    }
}

/// The SDK's HTTP client (for SSO and STS) over reqwest.
mod http {
    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
    use aws_smithy_types::body::SdkBody;

    pub fn client() -> SharedHttpClient {
        SharedHttpClient::new(Reqwest(reqwest::Client::new()))
    }

    #[derive(Debug, Clone)]
    struct Reqwest(reqwest::Client);

    impl HttpClient for Reqwest {
        fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }
    }

    impl HttpConnector for Reqwest {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let client = self.0.clone();
            HttpConnectorFuture::new(async move {
                let request = request.try_into_http1x().map_err(|e| ConnectorError::other(e.into(), None))?;
                let (parts, body) = request.into_parts();
                let bytes = body.bytes().unwrap_or_default().to_vec();
                let response = client
                    .request(parts.method, parts.uri.to_string())
                    .headers(parts.headers)
                    .body(bytes)
                    .send()
                    .await
                    .map_err(|e| ConnectorError::io(e.into()))?;
                let mut builder = ::http::Response::builder().status(response.status());
                for (name, value) in response.headers() {
                    builder = builder.header(name, value);
                }
                let body = response.bytes().await.map_err(|e| ConnectorError::io(e.into()))?;
                let response =
                    builder.body(SdkBody::from(body.to_vec())).map_err(|e| ConnectorError::other(e.into(), None))?;
                HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
            })
        }
    }
}
