//! `key::load` on key text and key Buffers: arbitrary bytes as `KeyInput::Bytes`, and, when
//! they are UTF-8 JSON-looking text, as `KeyInput::Text`.
//!
//! A `KeyInput::Text` that does not start with `{` is a *path* and `load` would open it, so
//! such strings are never passed: the fuzzer must not read arbitrary files.
#![no_main]

use fuzz_support::{assert_no_leak, describe, input_texts, looks_like_json, show};
use libfuzzer_sys::fuzz_target;
use yc_iam_token_core::error::{ErrorCode, Result};
use yc_iam_token_core::key::{self, AuthorizedKey, KeyInput};


fn check(result: Result<AuthorizedKey>, texts: &[String]) {
    show(|| describe(&result, |k| format!("key {}", k.key_id)));
    match result {
        Ok(key) => {
            assert!(!key.key_id.is_empty() && !key.service_account_id.is_empty());
        }
        Err(e) => {
            assert_eq!(e.code, ErrorCode::InvalidKey, "{e}");
            assert_no_leak(&e, texts);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let texts = input_texts(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if looks_like_json(text) {
            let input = KeyInput::Text(text.to_owned());
            // Our filter and the crate's own test must agree, or the crate would take this
            // text for a path. Checked before `load`, so no file is ever opened.
            assert!(!input.is_path(), "JSON-looking text taken for a path");
            check(key::load(input), &texts);
        }
    }
    check(key::load(KeyInput::Bytes(data.to_vec())), &texts);
});
