//! Creating a missing S3 bucket. OpenDAL has no bucket operations, so this one request is
//! made here, signed by `reqsign` (the AWS SigV4 implementation OpenDAL itself uses).

use reqsign_aws_v4::{RequestSigner, StaticCredentialProvider};
use reqsign_core::{Context, Signer};

use crate::ops::settings::Secret;

/// `PUT /{bucket}` (path style, as OpenDAL addresses objects). An existing bucket of ours
/// (`BucketAlreadyOwnedByYou`) counts as success. Errors are (HTTP status, message).
pub async fn create(
    http: &reqwest::Client,
    endpoint: &str,
    bucket: &str,
    region: &str,
    access_key_id: &Secret,
    secret_access_key: &Secret,
) -> Result<(), (Option<u16>, String)> {
    let body = if region == "us-east-1" {
        String::new()
    } else {
        format!(
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
        )
    };
    let url = format!("{}/{bucket}", endpoint.trim_end_matches('/'));
    let request = http::Request::put(&url)
        .header("content-length", body.len())
        .body(())
        .map_err(|e| (None, format!("cannot build the CreateBucket request: {e}")))?;
    let (mut parts, ()) = request.into_parts();
    let signer = Signer::new(
        Context::new(),
        StaticCredentialProvider::new(access_key_id.expose(), secret_access_key.expose()),
        RequestSigner::new("s3", region),
    );
    signer
        .sign(&mut parts, None)
        .await
        .map_err(|e| (None, format!("cannot sign the CreateBucket request: {e}")))?;
    let mut builder = http.put(&url).body(body);
    for (name, value) in &parts.headers {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    let response = builder
        .send()
        .await
        .map_err(|e| (e.status().map(|s| s.as_u16()), e.without_url().to_string()))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response.text().await.unwrap_or_default();
    if status.as_u16() == 409 && text.contains("BucketAlreadyOwnedByYou") {
        return Ok(());
    }
    let text: String = text.chars().take(300).collect();
    Err((
        Some(status.as_u16()),
        format!("CreateBucket {bucket}: {status} {}", text.trim()),
    ))
}
