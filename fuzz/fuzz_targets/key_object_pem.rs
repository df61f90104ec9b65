//! The structured variant of key_object: a well-formed key object whose `private_key` is a
//! PEM block built from the fuzzer's bytes, so the PEM, DER and RSA parsers get deep inputs.
//!
//! Input: one flags byte, then the payload.
//! * bit 0: 1 = the payload is DER, base64-encoded here (mutations land in the DER);
//!          0 = the payload is the PEM body text as is (mutations land in the base64).
//! * bit 1: PEM label `RSA PRIVATE KEY` (PKCS#1) instead of `PRIVATE KEY` (PKCS#8).
//! * bits 2-3: the key's shape: 0 authorized key file, 1 camelCase, 2 KeyService.Create
//!   answer, 3 key file with yc's "PLEASE DO NOT REMOVE THIS LINE!" line before the PEM.
//! * bit 4: CRLF line ends in the PEM.
//! * bit 5: pass the key as JSON bytes (`KeyInput::Bytes`) instead of an object.
#![no_main]

use base64::Engine;
use fuzz_support::{assert_no_leak, describe, show};
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use yc_iam_token_core::error::ErrorCode;
use yc_iam_token_core::key::{self, KeyInput};
use yc_iam_token_core::value::Value;


fuzz_target!(|data: &[u8]| {
    let Some((&flags, payload)) = data.split_first() else {
        return;
    };
    let nl = if flags & 0x10 != 0 { "\r\n" } else { "\n" };
    let body = if flags & 1 != 0 {
        let b64 = base64::engine::general_purpose::STANDARD.encode(payload);
        b64.as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(nl)
    } else {
        String::from_utf8_lossy(payload).into_owned()
    };
    let label = if flags & 2 != 0 {
        "RSA PRIVATE KEY"
    } else {
        "PRIVATE KEY"
    };
    let pem = format!("-----BEGIN {label}-----{nl}{body}{nl}-----END {label}-----{nl}");
    let (id, sa) = ("ajefuzzkey0000000001", "ajefuzzsa00000000001");
    let object = match (flags >> 2) & 3 {
        0 => json!({"id": id, "service_account_id": sa, "private_key": pem}),
        1 => json!({"id": id, "serviceAccountId": sa, "privateKey": pem}),
        2 => json!({"key": {"id": id, "serviceAccountId": sa}, "privateKey": pem}),
        _ => json!({
            "id": id,
            "service_account_id": sa,
            "created_at": "2026-01-01T00:00:00Z",
            "key_algorithm": "RSA_2048",
            "public_key": "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n",
            "private_key": format!("PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID <{id}>{nl}{pem}"),
        }),
    };
    let texts = vec![pem.clone(), body.clone()];
    let input = if flags & 0x20 != 0 {
        KeyInput::Bytes(object.to_string().into_bytes())
    } else {
        KeyInput::Object(Value::from_json(object))
    };
    let result = key::load(input);
    show(|| describe(&result, |k| format!("key {}", k.key_id)));
    match result {
        Ok(key) => {
            assert_eq!(key.key_id, id);
            assert_eq!(key.service_account_id, sa);
        }
        Err(e) => {
            assert_eq!(e.code, ErrorCode::InvalidKey, "{e}");
            assert_no_leak(&e, &texts);
        }
    }
});
