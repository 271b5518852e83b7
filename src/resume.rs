//! Resume after a page reload, the pure half (the full build only): the record a multipart
//! upload keeps in IndexedDB while it runs, its text form, and what to do with a record found
//! when the same file is selected again. No browser API here; tested on the host.
//!
//! The record holds no secret: no presigned URL, no credential, no API key. It is written as
//! a few lines of text (one field a line, then one line per finished part), which costs less
//! .wasm than any serializer.

use crate::multipart::DonePart;
use crate::text::{cat, num};

/// How long a record stays resumable unless `resume.maxAgeMs` says otherwise: 7 days.
pub const DEFAULT_MAX_AGE_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// The first line of every record; a record with another first line is ignored.
const MAGIC: &str = "presigned-upload resume 1";

/// What identifies a selected file across reloads (a browser cannot reopen it alone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// `File.name`.
    pub name: String,
    /// `File.size` in bytes.
    pub size: u64,
    /// `File.lastModified` in ms since the epoch.
    pub last_modified: u64,
    /// `File.type`.
    pub content_type: String,
}

/// One multipart upload in progress, as kept between page loads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The file.
    pub file: Fingerprint,
    /// The source's identity: the backend's endpoints, or the bucket and endpoint.
    pub source: String,
    /// The store's uploadId.
    pub upload_id: String,
    /// The object key.
    pub key: String,
    /// The uuid in the key, when the browser made the key (`s3`); else empty.
    pub file_uuid: String,
    /// The part size the upload was cut with.
    pub part_size: u64,
    /// When the upload started, ms since the epoch.
    pub started_ms: u64,
    /// After `complete` succeeded: the file's uuid (or key) it answered; empty before.
    pub completed_uuid: String,
    /// After `complete`: the ETag it answered (may be empty).
    pub completed_etag: String,
    /// The parts known to be finished, in part-number order.
    pub parts: Vec<DonePart>,
}

fn fits_a_line(s: &str) -> bool {
    !s.bytes().any(|b| b == b'\n' || b == b'\r')
}

impl Record {
    /// The record's text; `None` when a field cannot be kept on one line (a file name with a
    /// line break): such an upload is simply not resumable.
    pub fn encode(&self) -> Option<String> {
        let f = &self.file;
        let fields = [
            MAGIC,
            &f.name,
            &num(f.size),
            &num(f.last_modified),
            &f.content_type,
            &self.source,
            &self.upload_id,
            &self.key,
            &self.file_uuid,
            &num(self.part_size),
            &num(self.started_ms),
            &self.completed_uuid,
            &self.completed_etag,
        ];
        let mut out = String::new();
        for s in fields {
            if !fits_a_line(s) {
                return None;
            }
            out.push_str(s);
            out.push('\n');
        }
        for p in &self.parts {
            if !fits_a_line(&p.etag) {
                return None;
            }
            for s in [&num(p.number.into()), " ", &num(p.size), " ", &p.etag, "\n"] {
                out.push_str(s);
            }
        }
        Some(out)
    }

    /// Reads a record's text; `None` for anything that is not one (another version, a cut
    /// line, a bad number).
    pub fn decode(text: &str) -> Option<Record> {
        let mut lines = text.split('\n');
        let mut next = || lines.next();
        if next()? != MAGIC {
            return None;
        }
        let mut s = || next().map(str::to_owned);
        let name = s()?;
        let size = whole(&s()?)?;
        let last_modified = whole(&s()?)?;
        let content_type = s()?;
        let source = s()?;
        let upload_id = s()?;
        let key = s()?;
        let file_uuid = s()?;
        let part_size = whole(&s()?)?;
        let started_ms = whole(&s()?)?;
        let completed_uuid = s()?;
        let completed_etag = s()?;
        let mut parts = Vec::new();
        for line in lines {
            if line.is_empty() {
                continue;
            }
            let mut it = line.splitn(3, ' ');
            let number = whole(it.next()?)?;
            let size = whole(it.next()?)?;
            let etag = it.next()?.to_owned();
            if number == 0 || number > 10_000 {
                return None;
            }
            parts.push(DonePart { number: number as u32, size, etag });
        }
        if upload_id.is_empty() || key.is_empty() || part_size == 0 {
            return None;
        }
        Some(Record {
            file: Fingerprint { name, size, last_modified, content_type },
            source,
            upload_id,
            key,
            file_uuid,
            part_size,
            started_ms,
            completed_uuid,
            completed_etag,
            parts,
        })
    }

    /// The id the record is kept under, and that `pendingUploads()` gives and
    /// `discardPending(id)` takes.
    pub fn id(&self) -> String {
        cat(&[&self.key, " ", &self.upload_id])
    }

    /// Bytes of the parts known to be finished.
    pub fn bytes_done(&self) -> u64 {
        self.parts.iter().map(|p| p.size).sum()
    }

    /// Records part `p` as finished (replacing an earlier record of the same number).
    pub fn finish(&mut self, p: DonePart) {
        match self.parts.binary_search_by_key(&p.number, |q| q.number) {
            Ok(i) => self.parts[i] = p,
            Err(i) => self.parts.insert(i, p),
        }
    }
}

/// A decimal whole number (digits only).
fn whole(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut n = 0u64;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
}

/// What to do with a record found when a file is about to be uploaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Another source's upload, or another file: leave it alone.
    Ignore,
    /// Older than `resume.maxAgeMs`: abort its upload and forget it.
    Expired,
    /// The same name from this source, but the file (size, lastModified, type) or the part
    /// size changed: abort the stale upload and forget it; this file starts fresh.
    Changed,
    /// The same file from this source: resume it.
    Resume,
}

/// Judges `r` for `file` about to be uploaded from `source` in parts of `part_size`, at
/// `now_ms`. Expired records of this source are dropped whichever file they were for.
pub fn judge(r: &Record, file: &Fingerprint, source: &str, part_size: u64, now_ms: u64, max_age_ms: u64) -> Verdict {
    if r.source != source {
        Verdict::Ignore
    } else if is_expired(r, now_ms, max_age_ms) {
        Verdict::Expired
    } else if r.file.name != file.name {
        Verdict::Ignore
    } else if r.file != *file || r.part_size != part_size {
        Verdict::Changed
    } else {
        Verdict::Resume
    }
}

/// Whether `r` is older than `max_age_ms` at `now_ms` (a start in the future counts as now).
pub fn is_expired(r: &Record, now_ms: u64, max_age_ms: u64) -> bool {
    now_ms.saturating_sub(r.started_ms) > max_age_ms
}

/// Whether a failed `listParts` says the upload no longer exists (S3's `NoSuchUpload`, or a
/// 404 from the backend's endpoint): then the file starts fresh.
pub fn is_gone(e: &crate::error::UploadError) -> bool {
    e.status == Some(404) || e.s3_code.as_deref() == Some("NoSuchUpload") || crate::text::contains(&e.message, "NoSuchUpload")
}

/// Reads `resume.maxAgeMs`: a whole number of milliseconds, at least 1.
pub fn max_age(v: Option<f64>) -> Result<u64, crate::error::UploadError> {
    match v {
        None => Ok(DEFAULT_MAX_AGE_MS),
        Some(n) if n.is_finite() && n >= 1.0 && n.fract() == 0.0 && n <= 9.0e15 => Ok(n as u64),
        Some(_) => Err(crate::error::UploadError::invalid_input(
            "opts.resume.maxAgeMs",
            "must be a whole number of milliseconds, at least 1 (default 7 days: 604800000)",
        )),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn fp(name: &str, size: u64, lm: u64) -> Fingerprint {
        Fingerprint { name: name.into(), size, last_modified: lm, content_type: "video/mp4".into() }
    }

    fn record() -> Record {
        Record {
            file: fp("clip one.mp4", 20, 1_700_000_000_123),
            source: "backend /backend/multipart/create".into(),
            upload_id: "up-1".into(),
            key: "uploads/abc".into(),
            file_uuid: String::new(),
            part_size: 8,
            started_ms: 1_000,
            completed_uuid: String::new(),
            completed_etag: String::new(),
            parts: vec![
                DonePart { number: 1, size: 8, etag: "\"a b\"".into() },
                DonePart { number: 3, size: 4, etag: "\"c\"".into() },
            ],
        }
    }

    #[test]
    fn text_round_trip() {
        let r = record();
        let t = r.encode().unwrap();
        assert_eq!(Record::decode(&t), Some(r.clone()));
        let mut done = r;
        done.completed_uuid = "uuid-9".into();
        done.completed_etag = "\"e-2\"".into();
        done.parts.clear();
        done.file.content_type = String::new();
        assert_eq!(Record::decode(&done.encode().unwrap()), Some(done));
    }

    #[test]
    fn the_record_holds_no_url_and_no_secret_fields() {
        let t = record().encode().unwrap();
        assert!(!t.contains("http"), "{t}");
        assert!(!t.to_ascii_lowercase().contains("signature"), "{t}");
        assert!(!t.to_ascii_lowercase().contains("credential"), "{t}");
    }

    #[test]
    fn a_line_break_in_a_field_makes_no_record() {
        let mut r = record();
        r.file.name = "a\nb".into();
        assert_eq!(r.encode(), None);
        let mut r = record();
        r.parts[0].etag = "x\r".into();
        assert_eq!(r.encode(), None);
    }

    #[test]
    fn anything_else_is_not_a_record() {
        let t = record().encode().unwrap();
        assert_eq!(Record::decode(""), None);
        assert_eq!(Record::decode(&t.replace("resume 1", "resume 2")), None);
        assert_eq!(Record::decode(&t.replace("\n20\n", "\n2x\n")), None);
        let cut: String = t.lines().take(5).collect::<Vec<_>>().join("\n");
        assert_eq!(Record::decode(&cut), None);
        assert_eq!(Record::decode(&t.replace("3 4 ", "0 4 ")), None);
        assert_eq!(Record::decode(&cat(&[&t, "7 x\n"])), None);
        assert_eq!(whole("18446744073709551616"), None);
        assert_eq!(whole("-1"), None);
    }

    #[test]
    fn verdicts() {
        let r = record();
        let same = r.file.clone();
        let src = r.source.clone();
        let max = DEFAULT_MAX_AGE_MS;
        assert_eq!(judge(&r, &same, &src, 8, 2_000, max), Verdict::Resume);
        assert_eq!(judge(&r, &same, "s3 other", 8, 2_000, max), Verdict::Ignore);
        assert_eq!(judge(&r, &fp("other.mp4", 20, 1_700_000_000_123), &src, 8, 2_000, max), Verdict::Ignore);
        assert_eq!(judge(&r, &fp("clip one.mp4", 20, 1_700_000_000_124), &src, 8, 2_000, max), Verdict::Changed);
        assert_eq!(judge(&r, &fp("clip one.mp4", 21, 1_700_000_000_123), &src, 8, 2_000, max), Verdict::Changed);
        let mut typed = same.clone();
        typed.content_type = "text/plain".into();
        assert_eq!(judge(&r, &typed, &src, 8, 2_000, max), Verdict::Changed);
        assert_eq!(judge(&r, &same, &src, 5, 2_000, max), Verdict::Changed);
        // Expired whatever the file, once it is this source's.
        assert_eq!(judge(&r, &same, &src, 8, 1_000 + max + 1, max), Verdict::Expired);
        assert_eq!(judge(&r, &fp("other.mp4", 1, 1), &src, 8, 1_000 + max + 1, max), Verdict::Expired);
        assert_eq!(judge(&r, &same, &src, 8, 1_000 + max, max), Verdict::Resume);
        assert_eq!(judge(&r, &same, "s3 other", 8, 1_000 + max + 1, max), Verdict::Ignore);
        // A clock behind the start is not an expiry.
        assert_eq!(judge(&r, &same, &src, 8, 0, 1), Verdict::Resume);
    }

    #[test]
    fn parts_and_bytes() {
        let mut r = record();
        assert_eq!(r.bytes_done(), 12);
        r.finish(DonePart { number: 2, size: 8, etag: "b".into() });
        r.finish(DonePart { number: 1, size: 8, etag: "a2".into() });
        assert_eq!(r.parts.iter().map(|p| p.number).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(r.parts[0].etag, "a2");
        assert_eq!(r.bytes_done(), 20);
        assert_eq!(r.id(), "uploads/abc up-1");
    }

    #[test]
    fn gone_uploads() {
        use crate::error::{ErrorCode, UploadError};
        assert!(is_gone(&UploadError::new(ErrorCode::PresignFailed, "x").with_status(404)));
        let mut e = UploadError::new(ErrorCode::UploadRejected, "The upload does not exist").with_status(404);
        e.s3_code = Some("NoSuchUpload".into());
        assert!(is_gone(&e));
        assert!(is_gone(&UploadError::new(ErrorCode::PresignFailed, "multipart.listParts: NoSuchUpload")));
        assert!(!is_gone(&UploadError::new(ErrorCode::Network, "timed out")));
        assert!(!is_gone(&UploadError::new(ErrorCode::Forbidden, "no").with_status(403)));
    }

    #[test]
    fn max_age_option() {
        assert_eq!(max_age(None).unwrap(), DEFAULT_MAX_AGE_MS);
        assert_eq!(max_age(Some(1.0)).unwrap(), 1);
        for bad in [0.0, -1.0, 1.5, f64::NAN, f64::INFINITY] {
            let e = max_age(Some(bad)).unwrap_err();
            assert!(e.message.starts_with("opts.resume.maxAgeMs"), "{}", e.message);
        }
    }
}
