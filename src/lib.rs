//! presigned-upload: upload a browser `File` straight to S3 through a presigned PUT URL, and
//! run the Hexnode MDM file-management lifecycle (presign, verify, deploy, delete) around it.
//!
//! The JS surface lives in [`bindings`]; everything else is plain Rust. The modules `error`,
//! `presigned`, `retry`, `s3_error`, `hexnode`, `limiter`, `input` and `sigv4` (the SigV4
//! presigner, cargo feature `sigv4`) use no browser API and are tested on the host with
//! `cargo test`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod hexnode;
pub mod input;
pub mod limiter;
pub mod multipart;
pub mod presigned;
pub mod retry;
pub mod s3_error;
#[cfg(feature = "sigv4")]
pub mod sigv4;

mod api;
mod batch;
pub mod bindings;
mod flow;
mod opts;
mod platform;
#[cfg(feature = "sigv4")]
mod s3_multipart;
#[cfg(feature = "sigv4")]
mod s3_source;
mod source;
mod task;
mod transport;
