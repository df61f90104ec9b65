//! `metadata::parse_token` on any metadata service answer body.
#![no_main]

use fuzz_support::{assert_no_leak, assert_sane_token, describe, input_texts, show};
use libfuzzer_sys::fuzz_target;
use yc_iam_token_core::clock;
use yc_iam_token_core::error::ErrorCode;
use yc_iam_token_core::metadata;


fuzz_target!(|data: &[u8]| {
    let sent_at = clock::now();
    let wall = clock::wall_ms();
    let texts = input_texts(data);
    let result = metadata::parse_token(data, sent_at, wall, "the metadata service");
    show(|| describe(&result, |t| format!("expires_at_ms {}", t.expires_at_ms)));
    match result {
        Ok(token) => assert_sane_token(&token),
        Err(e) => {
            assert_eq!(e.code, ErrorCode::InvalidResponse, "{e}");
            assert_eq!(e.status, Some(200));
            assert_no_leak(&e, &texts);
        }
    }
});
