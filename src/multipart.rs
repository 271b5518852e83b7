//! Multipart uploads, the pure half: validation of the `multipart` options, the part plan
//! (sizes and byte ranges), and the ledger of finished and in-flight parts that progress and
//! resume are computed from. No browser API here; tested on the host.

use crate::text::{cat, num};

use crate::error::UploadError;

/// 1 MiB.
const MIB: u64 = 1024 * 1024;
/// The smallest part S3 accepts (all but the last part): 5 MiB.
pub const MIN_PART_SIZE: u64 = 5 * MIB;
/// The largest part S3 accepts: 5 GiB.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * MIB;
/// The most parts one multipart upload may have.
pub const MAX_PARTS: u64 = 10_000;
/// The largest object a multipart upload can make: 5 TiB.
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * MIB;
/// Files at or above this size go multipart unless `multipart.threshold` says otherwise: 100 MiB.
pub const DEFAULT_THRESHOLD: u64 = 100 * MIB;
/// The part size floor used when `multipart.partSize` is not given: 8 MiB.
pub const DEFAULT_MIN_PART_SIZE: u64 = 8 * MIB;
/// Parts in flight per file when `multipart.concurrency` is not given.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// The most parts in flight per file a caller may ask for.
pub const MAX_CONCURRENCY: usize = 16;

/// The validated numeric `multipart` options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultipartSettings {
    /// Files of at least this many bytes go multipart.
    pub threshold: u64,
    /// The part size asked for, if any (else [`default_part_size`]).
    pub part_size: Option<u64>,
    /// Parts in flight at once per file.
    pub concurrency: usize,
    /// Whether to leave the parts in the store on failure instead of aborting the upload.
    pub leave_parts: bool,
}

/// A JS number that must be a whole number in `min..=max`.
fn whole(field: &str, v: f64, min: u64, max: u64, what: &str) -> Result<u64, UploadError> {
    if !v.is_finite() || v.fract() != 0.0 || v < min as f64 || v > max as f64 {
        return Err(UploadError::invalid_input(field, what));
    }
    Ok(v as u64)
}

impl MultipartSettings {
    /// Validates the numbers of the `multipart` option (`None` = the default).
    ///
    /// Invalid input naming `multipart.threshold` (a whole number of bytes, at least 5 MiB),
    /// `multipart.partSize` (a whole number of bytes from 5 MiB to 5 GiB) or
    /// `multipart.concurrency` (a whole number from 1 to 16). NaN, infinities, fractions and
    /// negatives are refused.
    pub fn new(threshold: Option<f64>, part_size: Option<f64>, concurrency: Option<f64>, leave_parts: Option<bool>) -> Result<Self, UploadError> {
        let threshold = match threshold {
            None => DEFAULT_THRESHOLD,
            Some(v) => whole(
                "multipart.threshold",
                v,
                MIN_PART_SIZE,
                MAX_OBJECT_SIZE,
                &cat(&["must be a whole number of bytes, at least 5 MiB (", &num(MIN_PART_SIZE), ") and at most 5 TiB"]),
            )?,
        };
        let part_size = match part_size {
            None => None,
            Some(v) => Some(whole(
                "multipart.partSize",
                v,
                MIN_PART_SIZE,
                MAX_PART_SIZE,
                &cat(&["must be a whole number of bytes from 5 MiB (", &num(MIN_PART_SIZE), ") to 5 GiB (", &num(MAX_PART_SIZE), ")"]),
            )?),
        };
        let concurrency = match concurrency {
            None => DEFAULT_CONCURRENCY,
            Some(v) => whole("multipart.concurrency", v, 1, MAX_CONCURRENCY as u64, "must be a whole number from 1 to 16")? as usize,
        };
        Ok(MultipartSettings { threshold, part_size, concurrency, leave_parts: leave_parts.unwrap_or(false) })
    }

    /// Whether a file of `size` bytes goes multipart.
    pub fn applies_to(&self, size: u64) -> bool {
        size >= self.threshold
    }

    /// The part size for a file of `size` bytes: the one asked for, checked against the
    /// 10000-part limit, or [`default_part_size`].
    pub fn part_size_for(&self, size: u64) -> Result<u64, UploadError> {
        if size > MAX_OBJECT_SIZE {
            return Err(UploadError::new(
                crate::error::ErrorCode::TooLarge,
                cat(&["The file is ", &num(size), " bytes, but a multipart upload holds at most 5 TiB (", &num(MAX_OBJECT_SIZE), " bytes)."]),
            ));
        }
        match self.part_size {
            None => Ok(default_part_size(size)),
            Some(p) if size.div_ceil(p) > MAX_PARTS => Err(UploadError::invalid_input(
                "multipart.partSize",
                &cat(&[
                    &num(p),
                    " bytes would cut this ",
                    &num(size),
                    "-byte file into ",
                    &num(size.div_ceil(p)),
                    " parts, more than the 10000 S3 allows; use at least ",
                    &num(size.div_ceil(MAX_PARTS).max(MIN_PART_SIZE)),
                    " bytes",
                ]),
            )),
            Some(p) => Ok(p),
        }
    }
}

/// The default part size: `max(8 MiB, ceil(size / 10000))`, so that no file needs more than
/// 10000 parts.
pub fn default_part_size(size: u64) -> u64 {
    DEFAULT_MIN_PART_SIZE.max(size.div_ceil(MAX_PARTS))
}

/// One part: its 1-based number and its byte range `start..end` in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    /// 1-based part number.
    pub number: u32,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl Part {
    /// The part's size in bytes.
    pub fn size(&self) -> u64 {
        self.end - self.start
    }
}

/// Cuts `size` bytes into parts of `part_size` (the last one shorter). An empty file is one
/// empty part; a `part_size` of 0 counts as 1.
pub fn plan(size: u64, part_size: u64) -> Vec<Part> {
    let part_size = part_size.max(1);
    if size == 0 {
        return vec![Part { number: 1, start: 0, end: 0 }];
    }
    let count = size.div_ceil(part_size);
    (0..count)
        .map(|i| Part {
            number: (i + 1).min(u64::from(u32::MAX)) as u32,
            start: i * part_size,
            end: ((i + 1) * part_size).min(size),
        })
        .collect()
}

/// A part the store holds, as `listParts` reports it or as the uploader recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DonePart {
    /// 1-based part number.
    pub number: u32,
    /// Its size in bytes.
    pub size: u64,
    /// The ETag the store answered for it.
    pub etag: String,
}

/// Which parts are finished and how far the in-flight ones are: the source of progress and
/// of what a resume still has to send. Both lists are kept sorted by part number (plain
/// vectors: a BTreeMap costs about 8 KB of .wasm).
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    done: Vec<DonePart>,
    in_flight: Vec<(u32, u64)>,
}

impl Ledger {
    fn done_at(&self, number: u32) -> Result<usize, usize> {
        self.done.binary_search_by_key(&number, |p| p.number)
    }

    fn flying_at(&self, number: u32) -> Result<usize, usize> {
        self.in_flight.binary_search_by_key(&number, |p| p.0)
    }

    fn insert_done(&mut self, part: DonePart) {
        match self.done_at(part.number) {
            Ok(i) => self.done[i] = part,
            Err(i) => self.done.insert(i, part),
        }
    }
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a finished part (replacing any earlier record) and forgets its in-flight bytes.
    pub fn finish(&mut self, part: DonePart) {
        self.cancel(part.number);
        self.insert_done(part);
    }

    /// Sets how many bytes of part `number` are on their way (clamped to `size`).
    pub fn sending(&mut self, number: u32, loaded: u64, size: u64) {
        if !self.is_done(number) {
            match self.flying_at(number) {
                Ok(i) => self.in_flight[i].1 = loaded.min(size),
                Err(i) => self.in_flight.insert(i, (number, loaded.min(size))),
            }
        }
    }

    /// Forgets the in-flight bytes of part `number` (it failed or was cancelled).
    pub fn cancel(&mut self, number: u32) {
        if let Ok(i) = self.flying_at(number) {
            self.in_flight.remove(i);
        }
    }

    /// Forgets every in-flight part (pause).
    pub fn cancel_all(&mut self) {
        self.in_flight.clear();
    }

    /// Replaces what is known to be finished by what the store lists, keeping only the parts
    /// of `plan` whose listed size matches the plan and whose ETag is not empty.
    pub fn replace_with_listed(&mut self, plan: &[Part], listed: Vec<DonePart>) {
        self.in_flight.clear();
        self.done.clear();
        for p in listed {
            let fits = plan.iter().any(|q| q.number == p.number && q.size() == p.size);
            if fits && !p.etag.trim().is_empty() {
                self.insert_done(p);
            }
        }
    }

    /// Bytes of finished parts plus bytes on their way.
    pub fn loaded(&self) -> u64 {
        let done: u64 = self.done.iter().map(|p| p.size).sum();
        let flying: u64 = self.in_flight.iter().map(|p| p.1).sum();
        done.saturating_add(flying)
    }

    /// Bytes of finished parts only.
    pub fn done_bytes(&self) -> u64 {
        self.done.iter().map(|p| p.size).sum()
    }

    /// Whether part `number` is finished.
    pub fn is_done(&self, number: u32) -> bool {
        self.done_at(number).is_ok()
    }

    /// The parts of `plan` not yet finished, in order.
    pub fn missing(&self, plan: &[Part]) -> Vec<Part> {
        plan.iter().filter(|p| !self.is_done(p.number)).copied().collect()
    }

    /// The finished parts in part-number order, for `complete`.
    pub fn finished(&self) -> Vec<DonePart> {
        self.done.clone()
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn defaults() {
        let s = MultipartSettings::new(None, None, None, None).unwrap();
        assert_eq!(s.threshold, 100 * MIB);
        assert_eq!(s.concurrency, 4);
        assert!(!s.leave_parts);
        assert!(s.applies_to(100 * MIB));
        assert!(!s.applies_to(100 * MIB - 1));
    }

    #[test]
    fn validation_names_the_field() {
        type Case = (Option<f64>, Option<f64>, Option<f64>, &'static str);
        let cases: [Case; 9] = [
            (Some(5.0 * MIB as f64 - 1.0), None, None, "multipart.threshold"),
            (Some(f64::NAN), None, None, "multipart.threshold"),
            (Some(6.5e6 + 0.5), None, None, "multipart.threshold"),
            (None, Some(5.0 * MIB as f64 - 1.0), None, "multipart.partSize"),
            (None, Some(5.0 * 1024.0 * MIB as f64 + 1.0), None, "multipart.partSize"),
            (None, Some(-1.0), None, "multipart.partSize"),
            (None, None, Some(0.0), "multipart.concurrency"),
            (None, None, Some(17.0), "multipart.concurrency"),
            (None, None, Some(2.5), "multipart.concurrency"),
        ];
        for (t, p, c, field) in cases {
            let e = MultipartSettings::new(t, p, c, None).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput);
            assert!(e.message.starts_with(field), "{field}: {}", e.message);
        }
        assert!(MultipartSettings::new(Some(5.0 * MIB as f64), Some(5.0 * MIB as f64), Some(16.0), Some(true)).is_ok());
    }

    #[test]
    fn default_part_size_keeps_under_10000_parts() {
        assert_eq!(default_part_size(64 * MIB), 8 * MIB);
        assert_eq!(default_part_size(0), 8 * MIB);
        let big = 200 * 1024 * MIB; // 200 GiB
        let p = default_part_size(big);
        assert!(big.div_ceil(p) <= MAX_PARTS);
        assert!(p > 8 * MIB);
    }

    #[test]
    fn part_size_too_small_for_the_file() {
        let s = MultipartSettings::new(None, Some(5.0 * MIB as f64), None, None).unwrap();
        assert_eq!(s.part_size_for(64 * MIB).unwrap(), 5 * MIB);
        let e = s.part_size_for(5 * MIB * MAX_PARTS + 1).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.starts_with("multipart.partSize"), "{}", e.message);
        assert!(s.part_size_for(5 * MIB * MAX_PARTS).is_ok());
        assert_eq!(s.part_size_for(MAX_OBJECT_SIZE + 1).unwrap_err().code, ErrorCode::TooLarge);
    }

    #[test]
    fn plan_covers_the_file_exactly() {
        let p = plan(64 * MIB, 8 * MIB);
        assert_eq!(p.len(), 8);
        assert_eq!(p[0], Part { number: 1, start: 0, end: 8 * MIB });
        assert_eq!(p[7].end, 64 * MIB);
        let p = plan(10 * MIB + 3, 5 * MIB);
        assert_eq!(p.len(), 3);
        assert_eq!(p[2].size(), 3);
        for w in p.windows(2) {
            assert_eq!(w[0].end, w[1].start);
            assert_eq!(w[0].number + 1, w[1].number);
        }
        assert_eq!(plan(0, 5), vec![Part { number: 1, start: 0, end: 0 }]);
        assert_eq!(plan(3, 0).len(), 3);
    }

    #[test]
    fn ledger_progress_and_missing() {
        let p = plan(20, 8); // 8, 8, 4
        let mut l = Ledger::new();
        l.sending(1, 5, 8);
        l.sending(2, 100, 8);
        assert_eq!(l.loaded(), 13);
        l.finish(DonePart { number: 1, size: 8, etag: "\"a\"".into() });
        assert_eq!(l.loaded(), 16);
        assert_eq!(l.done_bytes(), 8);
        l.sending(1, 3, 8); // late progress of a finished part is ignored
        assert_eq!(l.loaded(), 16);
        l.cancel_all();
        assert_eq!(l.loaded(), 8);
        assert_eq!(l.missing(&p).iter().map(|p| p.number).collect::<Vec<_>>(), vec![2, 3]);
        l.finish(DonePart { number: 3, size: 4, etag: "\"c\"".into() });
        l.finish(DonePart { number: 2, size: 8, etag: "\"b\"".into() });
        assert_eq!(l.finished().iter().map(|p| p.number).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(l.missing(&p).is_empty());
        assert_eq!(l.loaded(), 20);
    }

    #[test]
    fn listed_parts_must_match_the_plan() {
        let p = plan(20, 8);
        let mut l = Ledger::new();
        l.finish(DonePart { number: 3, size: 4, etag: "x".into() });
        l.replace_with_listed(
            &p,
            vec![
                DonePart { number: 1, size: 8, etag: "a".into() },
                DonePart { number: 2, size: 7, etag: "b".into() },  // wrong size: resend
                DonePart { number: 9, size: 8, etag: "z".into() },  // not in the plan
                DonePart { number: 3, size: 4, etag: " ".into() },  // no ETag: resend
            ],
        );
        assert_eq!(l.missing(&p).iter().map(|p| p.number).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(l.done_bytes(), 8);
    }
}
