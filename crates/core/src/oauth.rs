//! A user's OAuth token (`y0_…`, or the older `AQAAAA…`), as `yc init` asks for it and
//! Terraform's provider reads it from `YC_TOKEN`, exchanged at IAM for an IAM token
//! (`{"yandexPassportOauthToken": "…"}`; the answer is the JWT exchange's, parsed by `iam`).

use crate::error::{Error, Result};
use crate::http::CallOptions;
use crate::iam;
use crate::limits::MAX_TOKEN_CHARS;
use crate::token::Token;

/// Whether `token` has the shape of a Yandex OAuth token: `y<digit>_…` or `AQAA…`.
pub fn looks_like_oauth(token: &str) -> bool {
    let bytes = token.as_bytes();
    token.starts_with("AQAA") || matches!(bytes, [b'y', d, b'_', ..] if d.is_ascii_digit())
}

/// Checks an OAuth token the caller gave (`from` names it: "the OAuth token", "YC_TOKEN", a
/// profile's `token`) and returns it trimmed.
pub fn check(token: &str, from: &str) -> Result<String> {
    let token = token.trim();
    if token.is_empty() {
        return Err(Error::invalid_arg(format!("{from} is empty")));
    }
    if token.starts_with("t1.") {
        return Err(Error::invalid_arg(format!(
            "{from} holds an IAM token (t1.…), not an OAuth token: use it as it is"
        )));
    }
    if token.len() > MAX_TOKEN_CHARS || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid_arg(format!(
            "{from} is not an OAuth token: expected y0_… or AQAAAA… (visible ASCII, at most \
             {MAX_TOKEN_CHARS} characters)"
        )));
    }
    Ok(token.to_string())
}

/// The exchange at IAM, by `route` (direct or through a proxy).
pub async fn exchange(
    token: &str,
    endpoint: &str,
    call: CallOptions,
    route: &crate::http::Route,
) -> Result<Token> {
    iam::exchange_oauth(token, endpoint, call, route).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn oauth_tokens_are_told_from_others() {
        for yes in ["y0_AgAAAAB", "y3_x", "AQAAAAAAj43Q"] {
            assert!(looks_like_oauth(yes), "{yes}");
        }
        for no in ["t1.abc", "eyJ", "y_x", "yx_", "", "AQA"] {
            assert!(!looks_like_oauth(no), "{no}");
        }
    }

    #[test]
    fn bad_tokens_are_refused_without_echo() {
        assert_eq!(check(" y0_abc\n", "YC_TOKEN").unwrap(), "y0_abc");
        for bad in ["", "t1.secretsecret", "y0_a b", "y0_\u{0}"] {
            let e = check(bad, "YC_TOKEN").unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArg);
            assert!(!e.message.contains("secret"), "{}", e.message);
        }
    }
}
