//! Checks shared by the fuzz targets.
//!
//! Besides "never panics", every target asserts that an error message never carries secret
//! text taken from the input (the crate's contract, `error.rs`: "`message` never holds a
//! private key, a JWT or a token"). What counts as secret, kept simple on purpose:
//!
//! * private key material: when a PEM body of the input (what follows a `-----BEGIN …-----`
//!   header) holds `MII` (how every base64 RSA DER starts), the message must not hold `MII`;
//!   and no 16-character window of a base64 run of a PEM body may appear in the message
//!   (only windows with a digit, `+` or `/`, so that plain words such as `serviceAccountId`
//!   in a mangled PEM are not counted);
//! * tokens: no JSON string value of the input longer than 20 characters may appear in the
//!   message (the crate's messages never echo a string of the input: they name fields, sizes,
//!   types and, for `token_type`, at most 16 alphanumerics).
//!
//! A violated check panics with a message starting `SECRET LEAK`, which libFuzzer reports as
//! a crash like any other panic.

use std::time::Duration;

use yc_iam_token_core::error::Error;
use yc_iam_token_core::token::{Token, MAX_LIFETIME};

/// Length of the windows of PEM base64 that must not appear in a message.
pub const PEM_WINDOW: usize = 16;
/// Strings of the input longer than this must not appear in a message.
pub const LONG_STRING: usize = 20;

/// The crate's own test of JSON text versus a path: the key_text target loads
/// `KeyInput::Text` only when it holds, so the fuzzer can never make the crate open a file.
pub use yc_iam_token_core::redact::looks_like_json;

/// Every string value of a JSON document (and every object key), recursively.
pub fn json_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_strings(v, out)),
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                json_strings(v, out);
            }
        }
        _ => {}
    }
}

/// The input's texts worth checking: the raw text (lossy UTF-8) and, if it is JSON, every
/// string in it, decoded (so `\n` escapes and `\u` escapes are what the crate saw).
pub fn input_texts(bytes: &[u8]) -> Vec<String> {
    let mut texts = vec![String::from_utf8_lossy(bytes).into_owned()];
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(bytes) {
        json_strings(&json, &mut texts);
    }
    texts
}

fn is_b64(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=')
}

/// The PEM bodies of `text`: what follows each `-----BEGIN …-----` header, up to `-----END`.
pub fn pem_bodies(text: &str) -> Vec<&str> {
    let mut bodies = Vec::new();
    let mut rest = text;
    while let Some(begin) = rest.find("-----BEGIN") {
        let after = &rest[begin + "-----BEGIN".len()..];
        // Skip the header's label and its closing dashes, if any.
        let body_start = after.find("-----").map_or(0, |i| {
            let dashes = after[i..].bytes().take_while(|&b| b == b'-').count();
            i + dashes
        });
        let body = &after[body_start..];
        let body_end = body.find("-----END").unwrap_or(body.len());
        bodies.push(&body[..body_end]);
        rest = &body[body_end..];
    }
    bodies
}

/// The 16-character windows of the base64 runs of a PEM body that hold a digit, `+` or `/`.
pub fn pem_windows(body: &str, out: &mut Vec<String>) {
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !is_b64(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_b64(b[i]) {
            i += 1;
        }
        for w in b[start..i].windows(PEM_WINDOW) {
            if w.iter()
                .any(|c| c.is_ascii_digit() || matches!(c, b'+' | b'/'))
            {
                // The run is ASCII, so the window is valid UTF-8.
                out.push(String::from_utf8(w.to_vec()).unwrap());
            }
        }
    }
}

/// What of the input's secrets (its texts are `texts`, see `input_texts`) `error`'s message
/// holds, if anything.
pub fn find_leak(error: &Error, texts: &[String]) -> Option<String> {
    let message = &error.message;
    let bodies: Vec<&str> = texts.iter().flat_map(|t| pem_bodies(t)).collect();
    if message.contains("MII") && bodies.iter().any(|b| b.contains("MII")) {
        return Some("\"MII\" (key material)".into());
    }
    let mut windows = Vec::new();
    for body in &bodies {
        pem_windows(body, &mut windows);
    }
    if let Some(w) = windows.iter().find(|w| message.contains(w.as_str())) {
        return Some(format!("PEM body text {w:?}"));
    }
    // The raw input (texts[0]) is not a "string of the input": only decoded JSON strings
    // are, and, for inputs that are not JSON, nothing is.
    texts
        .iter()
        .skip(1)
        .map(|s| s.trim())
        .find(|s| s.chars().count() > LONG_STRING && message.contains(s))
        .map(|s| format!("an input string of {} bytes {s:?}", s.len()))
}

/// Panics (`SECRET LEAK …`) if `error`'s message holds key material or a long string of the
/// input (see `find_leak`).
pub fn assert_no_leak(error: &Error, texts: &[String]) {
    self_test();
    if let Some(what) = find_leak(error, texts) {
        panic!("SECRET LEAK: the error message holds {what}: {error}");
    }
}

/// Once per process: the leak check must catch planted leaks (else a broken check would
/// pass every input silently).
fn self_test() {
    static DONE: std::sync::Once = std::sync::Once::new();
    DONE.call_once(|| {
        let pem = "{\"private_key\":\"x\\n-----BEGIN PRIVATE KEY-----\\nMIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDoMVAlXs43fj+S\\n-----END PRIVATE KEY-----\\n\"}";
        let texts = input_texts(pem.as_bytes());
        let leaked = |m: &str| find_leak(&Error::invalid_key(m), &texts).is_some();
        assert!(leaked("bad key MIIEvgIB"), "leak check self-test: MII");
        assert!(leaked("bad key 9w0BAQEFAASCBKgw…"), "leak check self-test: window");
        assert!(!leaked("field \"private_key\" holds a PEM block that does not parse"));
        let token = "{\"iamToken\":\"t1.9euelZqTkJGXlZWPnJ2Sm5mdmZKS\"}";
        let texts = input_texts(token.as_bytes());
        let leaked = |m: &str| find_leak(&Error::invalid_response(m), &texts).is_some();
        assert!(leaked("got t1.9euelZqTkJGXlZWPnJ2Sm5mdmZKS!"), "leak check self-test: token");
        assert!(!leaked("IAM answered 200 but iamToken is empty"));
    });
}

/// What any token a parser accepts must look like.
pub fn assert_sane_token(token: &Token) {
    assert!(
        !token.access_token.trim().is_empty(),
        "accepted an empty token"
    );
    assert!(
        token.expires_at_ms.is_finite(),
        "expires_at_ms is {}",
        token.expires_at_ms
    );
    let lifetime = token
        .expires_at
        .saturating_duration_since(token.obtained_at);
    assert!(
        lifetime > Duration::ZERO,
        "accepted a token with no lifetime"
    );
    assert!(
        lifetime <= MAX_LIFETIME,
        "accepted a token living {lifetime:?}, more than 12 h"
    );
}

/// With `FUZZ_SHOW=1` in the environment, prints what each input gave (to see what a seed or
/// a crash input does: `FUZZ_SHOW=1 cargo fuzz run <target> <file> -- -runs=1`).
pub fn show(what: impl FnOnce() -> String) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("FUZZ_SHOW").is_some()) {
        eprintln!("FUZZ_SHOW: {}", what());
    }
}

/// A result for `show`: the token's lifetime, or the error (tokens themselves are not shown).
pub fn describe<T>(result: &yc_iam_token_core::error::Result<T>, ok: impl Fn(&T) -> String) -> String {
    match result {
        Ok(v) => format!("Ok({})", ok(v)),
        Err(e) => format!("Err({e})"),
    }
}
