//! presigned-upload: upload a browser `File` straight to S3 through a presigned PUT URL, and
//! run the Hexnode MDM file-management lifecycle (presign, verify, deploy, delete) around it.
//!
//! The JS surface lives in [`bindings`]; everything else is plain Rust. The modules `error`,
//! `presigned`, `retry`, `s3_error`, `hexnode`, `limiter`, `input`, `multipart` and `sigv4`
//! use no browser API and are tested on the host with `cargo test`.
//!
//! Two builds come from this crate: the core build (no features: every single-PUT path) and
//! the full build (cargo feature `full`: multipart uploads and the in-browser SigV4 signer).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The .wasm's heap: a free list behind a lock, constructed without `unsafe`.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

pub mod error;
pub mod hexnode;
pub mod input;
pub mod limiter;
#[cfg(feature = "full")]
pub mod multipart;
pub mod presigned;
pub mod redact;
#[cfg(feature = "full")]
pub mod resume;
pub mod retry;
pub mod s3_error;
#[cfg(feature = "full")]
pub mod sigv4;

mod api;
mod backend;
mod batch;
pub mod bindings;
mod flow;
mod opts;
mod platform;
#[cfg(feature = "full")]
mod s3_multipart;
#[cfg(feature = "full")]
mod s3_source;
mod source;
mod task;
mod text;
mod transport;
