//! `context::token_from_context` on any JSON document, as a Cloud Functions context.
#![no_main]

use fuzz_support::{assert_no_leak, assert_sane_token, describe, input_texts, show};
use libfuzzer_sys::fuzz_target;
use yc_iam_token_core::context;
use yc_iam_token_core::error::ErrorCode;
use yc_iam_token_core::value::Value;


fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let texts = input_texts(data);
    let result = context::token_from_context(&Value::from_json(json));
    show(|| describe(&result, |t| format!("expires_at_ms {}", t.expires_at_ms)));
    match result {
        Ok(token) => assert_sane_token(&token),
        Err(e) => {
            assert!(
                matches!(e.code, ErrorCode::InvalidArg | ErrorCode::NoServiceAccount),
                "{e}"
            );
            assert_no_leak(&e, &texts);
        }
    }
});
