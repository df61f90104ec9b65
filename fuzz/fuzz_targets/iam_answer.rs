//! `iam::parse_token` on any IAM answer body, and `iam::parse_rfc3339_ms` on any text (checked
//! against chrono wherever both accept the text).
#![no_main]

use fuzz_support::{assert_no_leak, assert_sane_token, describe, input_texts, show};
use libfuzzer_sys::fuzz_target;
use yc_iam_token_core::clock;
use yc_iam_token_core::error::ErrorCode;
use yc_iam_token_core::iam;


fn check_rfc3339(s: &str) {
    let Some(ms) = iam::parse_rfc3339_ms(s) else {
        return;
    };
    assert!(ms.is_finite() && ms.fract() == 0.0, "{s:?} -> {ms}");
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        assert_eq!(
            ms,
            dt.timestamp_millis() as f64,
            "parse_rfc3339_ms({s:?}) disagrees with chrono"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let sent_at = clock::now();
    let wall = clock::wall_ms();
    let texts = input_texts(data);
    let result = iam::parse_token(data, sent_at, wall, "IAM");
    show(|| describe(&result, |t| format!("expires_at_ms {}", t.expires_at_ms)));
    match result {
        Ok(token) => {
            assert_sane_token(&token);
            assert!(token.expires_at_ms > wall, "accepted an expired token");
        }
        Err(e) => {
            assert_eq!(e.code, ErrorCode::InvalidResponse, "{e}");
            assert_eq!(e.status, Some(200));
            assert_no_leak(&e, &texts);
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        check_rfc3339(s);
    }
    // Where the parser meets it in practice: the answer's expiresAt.
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Some(s) = json.get("expiresAt").and_then(|v| v.as_str()) {
            check_rfc3339(s);
        }
    }
});
