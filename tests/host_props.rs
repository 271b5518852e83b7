//! Property tests of the pure-Rust core on the host: no panics on any input,
//! redaction never leaves a secret, the rate limiter never exceeds its
//! budget, the date arithmetic round-trips.
//!
//! Cases per property: `PROPTEST_CASES` when set, else 2000.
#![cfg(not(target_arch = "wasm32"))]

use presigned_upload::error::{ErrorCode, UploadError};
use presigned_upload::hexnode::{self, ApiOp, Portal};
use presigned_upload::limiter::RateLimiter;
use presigned_upload::presigned::{self, epoch_ms_from_amz_date, redact_text, redact_url};
use presigned_upload::retry::{self, RetryPolicy};
use presigned_upload::{input, s3_error};
use proptest::prelude::*;

/// `PROPTEST_CASES` (read by proptest itself) when set, else 2000 cases.
fn config() -> ProptestConfig {
    if std::env::var_os("PROPTEST_CASES").is_some() {
        ProptestConfig::default()
    } else {
        ProptestConfig {
            cases: 2000,
            ..ProptestConfig::default()
        }
    }
}

/// Text built from pieces that matter to the parsers, mixed with arbitrary
/// characters, so that fuzzing reaches the interesting branches.
fn tricky_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("X-Amz-Signature".to_string()),
        Just("x-amz-credential".to_string()),
        Just("X-Amz-Security-Token".to_string()),
        Just("X%2DAmz%2DSignature".to_string()),
        Just("Signature".to_string()),
        Just("AWSAccessKeyId".to_string()),
        Just("<SignatureProvided>".to_string()),
        Just("<Error>".to_string()),
        Just("</Error>".to_string()),
        Just("<Code>".to_string()),
        Just("</Code>".to_string()),
        Just("<Message>".to_string()),
        Just("<![CDATA[".to_string()),
        Just("]]>".to_string()),
        Just("&#x".to_string()),
        Just("&amp;".to_string()),
        Just("Expected available in ".to_string()),
        Just(" seconds".to_string()),
        Just("\"detail\"".to_string()),
        Just("https://".to_string()),
        Just("X-Amz-Date=20130524T000000Z".to_string()),
        Just("X-Amz-Expires=".to_string()),
        Just("[::1]".to_string()),
        prop::sample::select(vec![
            "=", "%3D", ":", "\"", "'", "\\", "&", "?", "#", "%", "<", ">", "/", " ", "\n", "é",
            "✓", "\u{0}", ";", "@", "."
        ])
        .prop_map(String::from),
        "[0-9]{1,25}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

/// Any text: arbitrary Unicode or the tricky mix.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), tricky_text()]
}

/// A secret value as the spec describes it.
fn secret_value() -> impl Strategy<Value = String> {
    "[A-Za-z0-9%/+=_-]{8,40}"
}

/// Days since 1970-01-01 -> (year, month, day) (the inverse of the crate's
/// arithmetic, written independently).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn redact_text_never_panics_and_is_idempotent(text in any_text()) {
        let once = redact_text(&text);
        prop_assert_eq!(redact_text(&once), once);
    }

    #[test]
    fn redact_url_drops_only_the_secret_values(
        host in "[a-z0-9.-]{1,30}",
        path in "(/[A-Za-z0-9._~%-]{0,12}){0,4}",
        date in "[0-9]{8}T[0-9]{6}Z",
        expires in 1u32..604_800,
        sig in secret_value(),
        cred in secret_value(),
        token in secret_value(),
    ) {
        let kept = format!("https://{host}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={date}&X-Amz-Expires={expires}");
        let names = "&X-Amz-Credential=&X-Amz-Security-Token=&X-Amz-SignedHeaders=host&X-Amz-Signature=REDACTED";
        prop_assume!(![&sig, &cred, &token].iter().any(|v| kept.contains(v.as_str()) || names.contains(v.as_str())));
        let url = format!("{kept}&X-Amz-Credential={cred}&X-Amz-Security-Token={token}&X-Amz-SignedHeaders=host&X-Amz-Signature={sig}");
        let out = redact_url(&url);
        prop_assert!(out.starts_with(&kept), "{:?} -> {:?}", url, out);
        prop_assert!(out.contains("X-Amz-SignedHeaders=host"), "{:?}", out);
        for v in [&sig, &cred, &token] {
            prop_assert!(!out.contains(v.as_str()), "{:?} left in {:?}", v, out);
        }
    }

    #[test]
    fn redaction_never_leaves_a_query_signature_value(prefix in any_text(), v in secret_value(), suffix in any_text()) {
        prop_assume!(!prefix.contains(&v) && !suffix.contains(&v) && !"REDACTED".contains(&v));
        let text = format!("{prefix}X-Amz-Signature={v}{suffix}");
        let out = redact_text(&text);
        prop_assert!(!out.contains(&v), "{:?} -> {:?}", text, out);
    }

    #[test]
    fn redaction_never_leaves_a_secret_in_any_supported_form(
        prefix in any_text(),
        name in prop::sample::select(vec!["X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "x-amz-signature", "X%2DAmz%2DCredential", "x-amz-security-token"]),
        form in 0usize..6,
        v in secret_value(),
        suffix in any_text(),
    ) {
        prop_assume!(!prefix.contains(&v) && !suffix.contains(&v) && !"REDACTED".contains(&v));
        let middle = match form {
            0 => format!("{name}={v}"),
            1 => format!("{name}: {v}"),
            2 => format!("\"{name}\":\"{v}\""),
            3 => format!("'{name}' : '{v}'"),
            4 => format!("{name}%3D{v}"),
            _ => format!("\\\"{name}\\\":\\\"{v}\\\""),
        };
        let text = format!("{prefix}{middle}{suffix}");
        let out = redact_text(&text);
        prop_assert!(!out.contains(&v), "{:?} -> {:?}", text, out);
    }

    #[test]
    fn error_messages_never_carry_a_presigned_signature(v in secret_value(), code_idx in 0usize..ErrorCode::ALL.len(), status in any::<u16>()) {
        prop_assume!(!"REDACTED".contains(&v));
        let code = ErrorCode::ALL[code_idx];
        let url = format!("https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature={v}");
        let e = UploadError::new(code, format!("PUT {url} failed")).with_status(status).with_s3(Some(url.clone()), Some(url));
        prop_assert!(!e.to_string().contains(&v));
        let dbg = format!("{:?}", e);
        prop_assert!(!dbg.contains(&v));
    }

    #[test]
    fn redact_secret_never_leaves_the_secret(message in any_text(), secret in any_text(), s3 in any_text()) {
        let mut e = UploadError::new(ErrorCode::Unauthorized, format!("{message}{secret}{message}"))
            .with_s3(Some(format!("{s3}{secret}")), Some(secret.clone()));
        e.redact_secret(&secret);
        if secret.len() >= 4 {
            prop_assert!(!e.message.contains(&secret), "{:?}", e.message);
            prop_assert!(!e.s3_code.as_deref().unwrap_or("").contains(&secret));
            prop_assert!(!e.request_id.as_deref().unwrap_or("").contains(&secret));
        }
    }

    #[test]
    fn presigned_parse_never_panics_and_accepts_only_http_urls(text in any_text(), tail in any_text()) {
        for url in [text.clone(), format!("https://{text}"), format!("http://h/{tail}?{text}")] {
            if let Ok(u) = presigned::parse(&url) {
                prop_assert!(u.scheme == "https" || u.scheme == "http");
                prop_assert!(!u.hostname.is_empty());
                prop_assert!(!matches!(u.expires_secs, Some(s) if !(1..=604_800).contains(&s)));
                let _ = u.is_expired(u64::MAX, u64::MAX);
                let _ = u.check_transport(false);
            } else if let Err(e) = presigned::parse(&url) {
                prop_assert_eq!(e.code, ErrorCode::InvalidInput);
                prop_assert!(e.message.starts_with("presignedUrl: "));
            }
        }
    }

    #[test]
    fn amz_date_round_trips_for_every_second_from_1970_to_9999(secs in 0u64..253_402_300_800) {
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        let text = format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rem / 3600, rem / 60 % 60, rem % 60);
        prop_assert_eq!(epoch_ms_from_amz_date(&text), Some(secs * 1000), "{}", text);
    }

    #[test]
    fn amz_date_parser_never_panics(text in any_text()) {
        let _ = epoch_ms_from_amz_date(&text);
    }

    #[test]
    fn retry_policy_new_never_panics_and_valid_policies_are_in_bounds(
        a in prop::option::of(prop_oneof![any::<f64>(), (0u32..20).prop_map(f64::from)]),
        b in prop::option::of(prop_oneof![any::<f64>(), (0u32..700_000).prop_map(f64::from)]),
        c in prop::option::of(prop_oneof![any::<f64>(), (0u32..700_000).prop_map(f64::from)]),
    ) {
        match RetryPolicy::new(a, b, c) {
            Ok(p) => {
                prop_assert!(p.retries <= 10);
                prop_assert!(p.min_delay_ms <= p.max_delay_ms);
                prop_assert!(p.max_delay_ms <= 600_000);
            }
            Err(e) => {
                prop_assert_eq!(e.code, ErrorCode::InvalidInput);
                prop_assert!(e.message.starts_with("retry."));
            }
        }
    }

    #[test]
    fn backoff_stays_between_min_and_max_and_delay_respects_the_ten_minute_cap(
        min in 0u64..=600_000,
        extra in 0u64..=600_000,
        n in any::<u32>(),
        jitter in any::<f64>(),
        retry_after in prop::option::of(any::<u64>()),
    ) {
        let p = RetryPolicy { retries: 3, min_delay_ms: min, max_delay_ms: (min + extra).min(600_000).max(min) };
        let b = p.backoff_ms(n, jitter);
        prop_assert!(b >= p.min_delay_ms && b <= p.max_delay_ms, "{}", b);
        let d = p.delay_ms(n, jitter, retry_after);
        prop_assert!(d >= b);
        prop_assert!(d <= b.max(600_000));
    }

    #[test]
    fn backoff_never_panics_for_any_policy(min in any::<u64>(), max in any::<u64>(), n in any::<u32>(), jitter in any::<f64>()) {
        let p = RetryPolicy { retries: u32::MAX, min_delay_ms: min, max_delay_ms: max };
        let _ = p.delay_ms(n, jitter, Some(u64::MAX));
        let e = UploadError::new(ErrorCode::Network, "x").with_retry_after_ms(Some(max));
        let _ = retry::decide(&p, n, &e, jitter);
    }

    #[test]
    fn retry_header_and_throttle_parsers_never_panic(text in any_text(), now in any::<u64>()) {
        let _ = retry::parse_retry_after(&text, now);
        let _ = retry::parse_throttle_message(&text);
    }

    #[test]
    fn delta_seconds_retry_after_is_exact(secs in 0u64..1_000_000_000, now in any::<u64>()) {
        prop_assert_eq!(retry::parse_retry_after(&format!(" {secs} "), now), Some(secs * 1000));
    }

    #[test]
    fn s3_error_parsing_and_classification_never_panic(body in any_text(), status in any::<u16>(), header in prop::option::of(any_text())) {
        let _ = s3_error::parse(&body);
        let e = s3_error::classify_put_failure(status, &body, header.as_deref());
        prop_assert_eq!(e.status, Some(status));
        prop_assert!(matches!(e.code, ErrorCode::UrlExpired | ErrorCode::TooLarge | ErrorCode::UploadRejected));
    }

    #[test]
    fn s3_error_message_never_carries_the_signature_provided(v in secret_value(), status in 400u16..600) {
        prop_assume!(!"REDACTED".contains(&v));
        let body = format!(
            "<Error><Code>SignatureDoesNotMatch</Code><Message>X-Amz-Signature={v}</Message><SignatureProvided>{v}</SignatureProvided><RequestId>R1</RequestId></Error>"
        );
        let e = s3_error::classify_put_failure(status, &body, None);
        prop_assert!(!e.to_string().contains(&v));
        prop_assert!(!e.message.contains(&v));
    }

    #[test]
    fn hexnode_parsers_never_panic(text in any_text(), status in any::<u16>(), header in prop::option::of(any_text()), now in any::<u64>(), insecure in any::<bool>()) {
        let _ = Portal::parse(&text, insecure).map(|p| p.endpoint(hexnode::PRESIGN_PATH));
        let _ = Portal::parse(&format!("https://{text}"), insecure);
        let _ = hexnode::validate_path("verifyPath", &text);
        let _ = hexnode::json_string_field(&text, "detail");
        for op in [ApiOp::Presign, ApiOp::Verify, ApiOp::Delete, ApiOp::Deploy] {
            let e = hexnode::classify_api_failure(op, status, &text, header.as_deref(), now);
            prop_assert_eq!(e.status, Some(status));
        }
        let _ = hexnode::check_api_key(&text);
        let json = hexnode::PresignJson { presigned_url: Some(text.clone()), file_name: Some(text.clone()), file_uuid: Some(text.clone()) };
        let _ = hexnode::presigned_from_json(json, &text, &text, now, insecure);
    }

    #[test]
    fn portal_endpoints_start_with_the_origin(host in "[a-z][a-z0-9-]{0,20}(\\.[a-z0-9-]{1,10}){0,3}", path in "(/[a-z0-9-]{1,8}){0,3}/{0,3}") {
        let p = Portal::parse(&format!("https://{host}{path}"), false).unwrap();
        prop_assert_eq!(p.origin(), format!("https://{host}"));
        prop_assert!(!p.base().ends_with('/'));
        let e = p.endpoint(hexnode::VERIFY_PATH);
        prop_assert!(e.starts_with(p.origin()));
        prop_assert!(e.ends_with(hexnode::VERIFY_PATH));
        prop_assert!(!e.contains("//api"));
    }

    #[test]
    fn api_key_errors_never_echo_the_key(key in any_text()) {
        if let Err(e) = hexnode::check_api_key(&key) {
            prop_assert_eq!(e.code, ErrorCode::InvalidInput);
            if key.len() >= 4 {
                prop_assert!(!e.message.contains(&key));
            }
        } else {
            prop_assert!(!key.is_empty() && key.bytes().all(|b| b.is_ascii_graphic()));
        }
    }

    #[test]
    fn file_ids_are_accepted_exactly_when_non_negative_integers_up_to_2_pow_53(
        ids in prop::collection::vec(prop_oneof![any::<f64>(), (0u64..=(1u64 << 53)).prop_map(|v| v as f64), Just(-0.0)], 0..6)
    ) {
        let ok = |v: f64| v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_992.0;
        match hexnode::validate_file_ids("fileIds", &ids) {
            Ok(out) => {
                prop_assert!(!ids.is_empty() && ids.iter().all(|v| ok(*v)));
                prop_assert_eq!(out, ids.iter().map(|v| *v as u64).collect::<Vec<_>>());
            }
            Err(e) => {
                prop_assert!(ids.is_empty() || ids.iter().any(|v| !ok(*v)));
                prop_assert!(e.message.starts_with("fileIds"));
            }
        }
    }

    #[test]
    fn deploy_body_never_panics(
        ids in prop::collection::vec(any::<f64>(), 0..3),
        path in any_text(),
        lists in prop::collection::vec(prop::collection::vec(prop_oneof![any::<f64>(), (0u32..100).prop_map(f64::from)], 0..3), 4),
    ) {
        if let Ok(b) = hexnode::deploy_body(&ids, &path, &lists[0], &lists[1], &lists[2], &lists[3]) {
            prop_assert!(!b.file_ids.is_empty());
            prop_assert!(!(b.users.is_empty() && b.usergroups.is_empty() && b.devices.is_empty() && b.devicegroups.is_empty()));
        }
    }

    #[test]
    fn resolved_content_types_are_always_sendable_header_values(option in prop::option::of(any_text()), file_type in any_text()) {
        if let Ok(ct) = input::resolve_content_type(option.as_deref(), &file_type) {
            prop_assert!(!ct.is_empty());
            prop_assert!(ct.bytes().all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic()));
            prop_assert!(!ct.starts_with([' ', '\t']) && !ct.ends_with([' ', '\t']));
            if let Some(o) = option {
                prop_assert_eq!(ct, o);
            }
        }
    }

    #[test]
    fn resolved_file_names_are_non_blank_short_and_control_free(option in prop::option::of(any_text()), name in prop::option::of(any_text())) {
        if let Ok(n) = input::resolve_file_name(option.as_deref(), name.as_deref()) {
            prop_assert!(!n.trim().is_empty() && n.len() <= 1024 && !n.chars().any(char::is_control));
        }
    }

    #[test]
    fn check_size_accepts_exactly_whole_sizes_up_to_5_gib(size in prop_oneof![any::<f64>(), (0u64..=6 * (1u64 << 30)).prop_map(|v| v as f64)]) {
        match input::check_size(size) {
            Ok(n) => prop_assert!(n <= input::MAX_SINGLE_PUT_BYTES && n as f64 == size),
            Err(e) => prop_assert!(matches!(e.code, ErrorCode::InvalidInput | ErrorCode::TooLarge)),
        }
    }

    #[test]
    fn limiter_never_grants_more_than_per_window_slots_in_any_window(
        per_window in 1u32..6,
        window_ms in 1u64..5000,
        steps in prop::collection::vec((0u64..3000, prop::option::of(0u64..4000)), 1..60),
    ) {
        let mut l = RateLimiter::new(per_window, window_ms);
        let mut now = 0u64;
        let mut slots = Vec::new();
        let mut last_slot = 0u64;
        for (dt, penalty) in steps {
            now += dt;
            if let Some(wait) = penalty {
                if wait % 5 == 0 {
                    l.penalize(now, wait);
                }
            }
            let slot = now + l.reserve(now);
            prop_assert!(slot >= last_slot, "slots are handed out in order");
            last_slot = slot;
            slots.push(slot);
        }
        let p = per_window as usize;
        for i in p..slots.len() {
            prop_assert!(slots[i] - slots[i - p] >= window_ms, "slots {:?}", slots);
        }
    }

    #[test]
    fn limiter_lets_a_caller_go_at_once_when_the_window_has_room(per_window in 1u32..10, window_ms in 1u64..10_000, gap in 0u64..100_000) {
        let mut l = RateLimiter::new(per_window, window_ms);
        prop_assert_eq!(l.reserve(0), 0);
        let later = window_ms + gap;
        prop_assert_eq!(l.reserve(later), 0);
    }
}
