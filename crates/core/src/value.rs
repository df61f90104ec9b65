//! A small, owned picture of a JavaScript or JSON value: what the input parsers (`key`,
//! `context`) need to tell "missing" from "wrong type" and to name the type they got.
//! The napi layer builds it from JS objects (reading only the fields a parser asks for),
//! and `from_json` builds it from JSON text, so each parser is written once for both.

use std::fmt;

use zeroize::Zeroize;

#[derive(Clone, PartialEq)]
pub enum Value {
    Missing,
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Object(Vec<(String, Value)>),
    /// Anything else (array, function, symbol, bigint…), by its type name.
    Other(&'static str),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) => write!(f, "String([redacted], {} bytes)", s.len()),
            Value::Object(fields) => f
                .debug_map()
                .entries(fields.iter().map(|(k, v)| (k, v)))
                .finish(),
            other => f.write_str(other.type_name()),
        }
    }
}

/// Strings here may be private keys or tokens: wipe them when dropped.
impl Drop for Value {
    fn drop(&mut self) {
        if let Value::String(s) = self {
            s.zeroize();
        }
    }
}

static MISSING: Value = Value::Missing;

impl Value {
    /// The field `name` of an object; `Missing` for non-objects and absent fields.
    pub fn get(&self, name: &str) -> &Value {
        match self {
            Value::Object(fields) => fields
                .iter()
                .find(|(k, _)| k == name)
                .map_or(&MISSING, |(_, v)| v),
            _ => &MISSING,
        }
    }

    pub fn is_present(&self) -> bool {
        !matches!(self, Value::Missing | Value::Null)
    }

    /// A type name for messages, in JavaScript's words.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Missing => "undefined",
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_nan() => "NaN",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Object(_) => "object",
            Value::Other(name) => name,
        }
    }

    pub fn from_json(json: serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(_) => Value::Other("array"),
            serde_json::Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k, Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_tells_missing_from_null() {
        let v = Value::from_json(serde_json::json!({"a": null, "b": {"c": 1}}));
        assert_eq!(v.get("a"), &Value::Null);
        assert_eq!(v.get("x"), &MISSING);
        assert_eq!(v.get("b").get("c"), &Value::Number(1.0));
        assert_eq!(Value::String("s".into()).get("a"), &MISSING);
        assert_eq!(
            Value::from_json(serde_json::json!([1])).type_name(),
            "array"
        );
    }
}
