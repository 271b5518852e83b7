//! Presigned URLs for the devserver's own store, minted by the `rusty-s3` crate: a SigV4
//! signer that is not ours. The store (s3s) verifies them, so the devserver checks the
//! package's uploads against an outside implementation on both ends; `tests/sigv4_oracle.rs`
//! at the root holds the package's own signer (`src/sigv4.rs`) against the same crate.
//!
//! This is what a real application backend runs (usually through an AWS SDK) to hand a
//! browser a URL that allows one request on one object until it expires. The payload is not
//! signed (`UNSIGNED-PAYLOAD`), as for every presigned URL; a signed `content-type` must be
//! sent with exactly the signed value.

use std::time::Duration;

use jiff::Timestamp;
use rusty_s3::actions::S3Action;
use rusty_s3::{Bucket, Credentials, UrlStyle};

/// The store's bucket (path-style, at the store's endpoint) and the keys that sign for it.
#[derive(Clone, Debug)]
pub struct Presigner {
    bucket: Bucket,
    credentials: Credentials,
}

impl Presigner {
    /// A presigner for `bucket` in `region` at `endpoint` (e.g. `http://127.0.0.1:9000`).
    ///
    /// # Errors
    /// The endpoint is not an `http`/`https` URL with a host, or the bucket name does not fit
    /// in a URL path.
    pub fn new(
        endpoint: &str,
        bucket: &str,
        region: &str,
        access_key_id: &str,
        secret_access_key: &str,
    ) -> Result<Self, String> {
        let url = endpoint
            .parse()
            .map_err(|e| format!("the store's endpoint `{endpoint}` is not a URL: {e}"))?;
        let bucket = Bucket::new(url, UrlStyle::Path, bucket.to_owned(), region.to_owned())
            .map_err(|e| format!("the bucket `{bucket}` at `{endpoint}` is not usable: {e}"))?;
        Ok(Self {
            bucket,
            credentials: Credentials::new(access_key_id, secret_access_key),
        })
    }

    /// PutObject: a `PUT` of `key` that must carry exactly this `Content-Type`.
    #[must_use]
    pub fn put_object(&self, key: &str, content_type: &str, expires_secs: u64) -> String {
        let mut action = self.bucket.put_object(Some(&self.credentials), key);
        action.headers_mut().insert("content-type", content_type);
        action.sign(Duration::from_secs(expires_secs)).into()
    }

    /// UploadPart: `PUT ?partNumber=N&uploadId=ID`.
    #[must_use]
    pub fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u16,
        expires_secs: u64,
    ) -> String {
        self.bucket
            .upload_part(Some(&self.credentials), key, part_number, upload_id)
            .sign(Duration::from_secs(expires_secs))
            .into()
    }

    /// GetObject: a `GET` of `key`.
    #[must_use]
    pub fn get_object(&self, key: &str, expires_secs: u64) -> String {
        self.bucket
            .get_object(Some(&self.credentials), key)
            .sign(Duration::from_secs(expires_secs))
            .into()
    }

    /// Any other request on `key` (the multipart calls the sample backend makes:
    /// `POST ?uploads`, `POST ?uploadId=`, `DELETE ?uploadId=`), signed with `query` and no
    /// header but `host`.
    ///
    /// # Errors
    /// `method` is not one rusty-s3 signs.
    pub fn request(
        &self,
        method: &str,
        key: &str,
        query: &[(&str, &str)],
        expires_secs: u64,
    ) -> Result<String, String> {
        let method = match method {
            "GET" => rusty_s3::Method::Get,
            "HEAD" => rusty_s3::Method::Head,
            "POST" => rusty_s3::Method::Post,
            "PUT" => rusty_s3::Method::Put,
            "DELETE" => rusty_s3::Method::Delete,
            other => return Err(format!("cannot sign the method {other}")),
        };
        // rusty-s3 wants the query sorted by name, then value.
        let mut query = query.to_vec();
        query.sort_unstable();
        let url = rusty_s3::signing::sign(
            &Timestamp::now(),
            method,
            self.bucket.object_url(key),
            self.credentials.key(),
            self.credentials.secret(),
            self.credentials.token(),
            self.bucket.region(),
            expires_secs,
            query.iter().copied(),
            std::iter::empty(),
        );
        Ok(url.into())
    }
}

/// `t` in ISO 8601 as S3 writes times in its XML (`2024-01-31T12:00:00Z`).
#[must_use]
pub fn iso8601(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> Presigner {
        Presigner::new(
            "http://127.0.0.1:9000",
            "uploads",
            "us-east-1",
            "devaccesskey",
            "devsecretkey-for-local-testing-only",
        )
        .unwrap()
    }

    #[test]
    fn put_object_signs_host_and_content_type_path_style() {
        let url = dev().put_object("abc", "text/plain", 60);
        assert!(
            url.starts_with("http://127.0.0.1:9000/uploads/abc?"),
            "{url}"
        );
        assert!(
            url.contains("X-Amz-SignedHeaders=content-type%3Bhost&"),
            "{url}"
        );
        assert!(url.contains("X-Amz-Expires=60&"), "{url}");
        assert!(url.contains("X-Amz-Credential=devaccesskey%2F"), "{url}");
        assert!(!url.contains("devsecretkey"), "{url}");
    }

    #[test]
    fn upload_part_and_requests_sign_their_query() {
        let p = dev();
        let url = p.upload_part("k", "u-1", 7, 60);
        assert!(
            url.contains("&X-Amz-SignedHeaders=host&partNumber=7&uploadId=u-1&X-Amz-Signature="),
            "{url}"
        );
        let url = p.request("POST", "k", &[("uploads", "")], 60).unwrap();
        assert!(
            url.contains("?X-Amz-Algorithm=") && url.contains("&uploads=&X-Amz-Signature="),
            "{url}"
        );
        assert!(p.request("PATCH", "k", &[], 60).is_err());
    }

    #[test]
    fn bad_endpoint_is_an_error() {
        assert!(Presigner::new("not a url", "uploads", "us-east-1", "a", "b").is_err());
    }

    #[test]
    fn iso8601_format() {
        let t = Timestamp::from_second(1_709_210_096).unwrap();
        assert_eq!(iso8601(t), "2024-02-29T12:34:56Z");
    }
}
