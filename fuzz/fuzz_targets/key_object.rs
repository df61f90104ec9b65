//! `key::load(KeyInput::Object(_))` on any JSON document, as the napi layer would hand over
//! a JS object's fields.
#![no_main]

use fuzz_support::{assert_no_leak, describe, input_texts, show};
use libfuzzer_sys::fuzz_target;
use yc_iam_token_core::error::ErrorCode;
use yc_iam_token_core::key::{self, KeyInput};
use yc_iam_token_core::value::Value;


fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let texts = input_texts(data);
    let result = key::load(KeyInput::Object(Value::from_json(json)));
    show(|| describe(&result, |k| format!("key {}", k.key_id)));
    match result {
        Ok(key) => assert!(!key.key_id.is_empty() && !key.service_account_id.is_empty()),
        Err(e) => {
            assert_eq!(e.code, ErrorCode::InvalidKey, "{e}");
            assert_no_leak(&e, &texts);
        }
    }
});
