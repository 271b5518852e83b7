//! presigned-upload: upload a browser `File` straight to S3 through a presigned PUT URL.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
