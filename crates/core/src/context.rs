//! `tokenFromContext`: the token Yandex Cloud Functions hands each invocation in
//! `context.token`.

use crate::clock;
use crate::error::{Error, ErrorCode, Result};
use crate::token::{check_access_token, lifetime_from_secs, Token};
use crate::value::Value;

const NO_TOKEN: &str = "the function context has no token: give the function version a service \
account (yc serverless function version create --service-account-id …, or the console's \
\"Service account\" field) so Cloud Functions passes context.token";

/// Reads `context.token` (`access_token`, `expires_in`, optional `token_type`).
pub fn token_from_context(context: &Value) -> Result<Token> {
    if !matches!(context, Value::Object(_)) {
        return Err(Error::invalid_arg(format!(
            "context must be the handler's context object, as in async (event, context) => … \
             (got {})",
            context.type_name()
        )));
    }
    let token = context.get("token");
    let token = match token {
        Value::Missing | Value::Null => {
            return Err(Error::new(ErrorCode::NoServiceAccount, NO_TOKEN))
        }
        Value::Object(_) => token,
        other => {
            return Err(Error::invalid_arg(format!(
                "context.token must be an object {{access_token, expires_in}} (got {})",
                other.type_name()
            )))
        }
    };
    let access_token = match token.get("access_token") {
        Value::String(s) => {
            check_access_token(s)
                .map_err(|why| Error::invalid_arg(format!("context.token.access_token {why}")))?;
            s.clone()
        }
        other => {
            return Err(Error::invalid_arg(format!(
                "context.token.access_token must be a string (got {})",
                other.type_name()
            )))
        }
    };
    let expires_in = match token.get("expires_in") {
        Value::Number(n) => *n,
        other => {
            return Err(Error::invalid_arg(format!(
                "context.token.expires_in must be a number of seconds (got {})",
                other.type_name()
            )))
        }
    };
    match token.get("token_type") {
        Value::Missing | Value::Null => {}
        Value::String(t) if t.eq_ignore_ascii_case("bearer") => {}
        other => {
            return Err(Error::invalid_arg(format!(
                "context.token.token_type must be \"Bearer\" (got {})",
                describe(other)
            )))
        }
    }
    let lifetime = lifetime_from_secs(expires_in, "context.token", Error::invalid_arg)?;
    Ok(Token::new(
        access_token,
        clock::now(),
        clock::wall_ms(),
        lifetime,
    ))
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => match crate::redact::vocabulary_word(s) {
            Some(word) => format!("\"{word}\""),
            None => "another string".into(),
        },
        other => other.type_name().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(v: serde_json::Value) -> Value {
        Value::from_json(v)
    }

    #[test]
    fn reads_the_token() {
        let before = clock::wall_ms();
        let t = token_from_context(&ctx(json!({
            "requestId": "x",
            "token": {"access_token": "t1.abc", "expires_in": 43200, "token_type": "Bearer"}
        })))
        .unwrap();
        assert_eq!(t.access_token, "t1.abc");
        let lifetime_ms = t.expires_at_ms - before;
        assert!((43_199_000.0..43_201_000.0).contains(&lifetime_ms));
    }

    #[test]
    fn no_token_means_no_service_account() {
        for c in [json!({}), json!({"token": null})] {
            let e = token_from_context(&ctx(c)).unwrap_err();
            assert_eq!(e.code, ErrorCode::NoServiceAccount);
            assert!(e.message.contains("service account"));
        }
    }

    #[test]
    fn wrong_types_are_invalid_args() {
        let cases = [
            Value::Null,
            Value::String("ctx".into()),
            ctx(json!({"token": "t1.x"})),
            ctx(json!({"token": {"access_token": "", "expires_in": 10}})),
            ctx(json!({"token": {"access_token": 5, "expires_in": 10}})),
            ctx(json!({"token": {"access_token": "t1.x", "expires_in": -1}})),
            ctx(json!({"token": {"access_token": "t1.x", "expires_in": 0}})),
            ctx(json!({"token": {"access_token": "t1.x", "expires_in": "10"}})),
            ctx(json!({"token": {"access_token": "t1.x"}})),
            ctx(json!({"token": {"access_token": "t1.x", "expires_in": 10, "token_type": "MAC"}})),
            ctx(json!({"token": {"access_token": "t1.x\r\nX-Injected: 1", "expires_in": 10}})),
            ctx(json!({"token": {"access_token": "t1.x\u{0}", "expires_in": 10}})),
            ctx(json!({"token": {"access_token": "t1.x y", "expires_in": 10}})),
            ctx(json!({"token": {"access_token": "t1.xé", "expires_in": 10}})),
            ctx(
                json!({"token": {"access_token": format!("t1.{}", "a".repeat(20_000)), "expires_in": 10}}),
            ),
            Value::Object(vec![(
                "token".into(),
                Value::Object(vec![
                    ("access_token".into(), Value::String("t1.x".into())),
                    ("expires_in".into(), Value::Number(f64::NAN)),
                ]),
            )]),
        ];
        for c in cases {
            let e = token_from_context(&c).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArg, "{c:?}");
            assert!(!e.message.contains("t1.x"), "{}", e.message);
        }
    }
}
