//! Authorized keys: every input form the contract lists, turned into a ready signing key.
//!
//! Parsing an RSA key is the slow part of signing (aws-lc-rs validates the key), so parsed
//! keys are kept in a bounded process-wide map (least recently used go first) keyed by a
//! SHA-256 of the key's DER. The cache's key is the key's identity: a SHA-256 over the key id,
//! the service account id and that DER hash, so the same key passed as an object, JSON text,
//! a path or a Buffer is one entry, and a key with another id is another.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use aws_lc_rs::digest;
use aws_lc_rs::signature::RsaKeyPair;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::files::FileError;
use crate::limits::{MAX_INPUT_BYTES, MAX_PARSED_KEYS, MAX_PATH_CHARS};
use crate::lru::LruMap;
use crate::redact::looks_like_json;
use crate::value::Value;

const MIN_RSA_BITS: usize = 2048;

/// What the caller passed as `key`. Its text and bytes are zeroized once read.
pub enum KeyInput {
    /// A JS object (its fields, as `Value`).
    Object(Value),
    /// A string: JSON text when its first non-blank character is `{`, else a path.
    Text(String),
    /// A Buffer: the key file's bytes.
    Bytes(Vec<u8>),
}

pub type Identity = [u8; 32];

/// A usable authorized key.
#[derive(Clone)]
pub struct AuthorizedKey {
    pub key_id: String,
    pub service_account_id: String,
    pub identity: Identity,
    pub key_pair: Arc<RsaKeyPair>,
}

impl fmt::Debug for AuthorizedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizedKey")
            .field("key_id", &self.key_id)
            .field("service_account_id", &self.service_account_id)
            .field("key_pair", &"[redacted]")
            .finish()
    }
}

impl KeyInput {
    /// Whether loading this input reads a file (and so belongs off the JS thread).
    pub fn is_path(&self) -> bool {
        matches!(self, KeyInput::Text(t) if !looks_like_json(t))
    }
}

pub fn load(input: KeyInput) -> Result<AuthorizedKey> {
    match input {
        KeyInput::Object(value) => from_value(&value, "key object"),
        KeyInput::Text(text) if looks_like_json(&text) => {
            from_json_text(&Zeroizing::new(text), "key JSON text")
        }
        KeyInput::Text(path) => from_file(&Zeroizing::new(path)),
        KeyInput::Bytes(bytes) => from_bytes(&Zeroizing::new(bytes), "key Buffer"),
    }
}

/// [`load`] for async callers: a key read from a file is read and parsed on the blocking pool,
/// waited for until `deadline` at most (a slow or hung file system never holds a runtime worker).
pub async fn load_within(input: KeyInput, deadline: tokio::time::Instant) -> Result<AuthorizedKey> {
    let what = match &input {
        KeyInput::Text(path) if input.is_path() => format!("the key file {}", display_path(path)),
        _ => return load(input),
    };
    crate::files::read_off_thread(&what, deadline, move || load(input)).await
}

fn from_bytes(bytes: &[u8], source: &str) -> Result<AuthorizedKey> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(too_large(source, bytes.len()));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| {
        Error::invalid_key(format!(
            "{source} is not UTF-8 text: pass the authorized key JSON file as `yc iam key create` wrote it"
        ))
    })?;
    from_json_text(text, source)
}

fn from_file(path: &str) -> Result<AuthorizedKey> {
    if path.contains("-----BEGIN") {
        return Err(Error::invalid_key(
            "the key string is PEM text, not a path or JSON: pass the whole authorized key JSON \
             (with id and service_account_id), not only its private_key",
        ));
    }
    if path.chars().count() > MAX_PATH_CHARS {
        return Err(Error::invalid_key(format!(
            "the key string is {} characters, too long for a path (at most {MAX_PATH_CHARS}) and not JSON text (it does not start with `{{`)",
            path.chars().count()
        )));
    }
    let shown = display_path(path);
    let bytes = crate::files::read(path, MAX_INPUT_BYTES).map_err(|e| match e {
        FileError::TooLarge { .. } => Error::invalid_key(format!(
            "key file {shown} is larger than {MAX_INPUT_BYTES} bytes, too large for an authorized key (a key file is a few KB)"
        )),
        FileError::Io(_) => Error::invalid_key(format!(
            "cannot read the key file {shown}: {e} (a string that does not start with `{{` is taken as a path)"
        )),
        FileError::NotRegular(_) => {
            Error::invalid_key(format!("cannot read the key file {shown}: {e}"))
        }
    })?;
    from_bytes(&bytes, &format!("key file {shown}"))
}

fn from_json_text(text: &str, source: &str) -> Result<AuthorizedKey> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(too_large(source, text.len()));
    }
    let text = text.trim_start_matches('\u{feff}');
    // serde_json's messages name a line and column, never the text itself.
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Error::invalid_key(format!(
            "{source} is not valid JSON ({})",
            e.classify_message()
        ))
    })?;
    from_value(&Value::from_json(json), source)
}

/// What an object without a private key that users pass by mistake looks like, with the fix.
fn mistaken_for_a_key(value: &Value) -> Option<&'static str> {
    let has = |name: &str| value.get(name).is_present();
    if has("private_key") || has("privateKey") {
        return None;
    }
    if has("token") || has("requestId") {
        return Some("a Cloud Functions context: pass it to tokenFromContext(context), or getToken({ context })");
    }
    if has("access_token") {
        return Some(
            "a function context's token: pass the whole context to tokenFromContext(context)",
        );
    }
    if has("dependencies") || has("devDependencies") || (has("name") && has("version")) {
        return Some(
            "a package.json, not the key file `yc iam key create --output key.json` writes",
        );
    }
    if has("public_key") || has("publicKey") {
        return Some("the public half only: the private key is in the file `yc iam key create --output key.json` wrote, once");
    }
    None
}

/// The three documented shapes of a key object.
#[derive(Clone, Copy)]
enum Form {
    File,
    Camel,
    CreateKeyResponse,
}

impl Form {
    fn of(value: &Value) -> Form {
        if value.get("key").is_present() {
            Form::CreateKeyResponse
        } else if value.get("service_account_id").is_present()
            || value.get("private_key").is_present()
        {
            Form::File
        } else {
            Form::Camel
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Form::File => "an authorized key file {id, service_account_id, private_key}",
            Form::Camel => {
                "a camelCase key {id | keyId | accessKeyId, serviceAccountId, privateKey}"
            }
            Form::CreateKeyResponse => {
                "a KeyService.Create answer {key: {id, serviceAccountId}, privateKey}"
            }
        }
    }

    fn private_key_field(self) -> &'static str {
        match self {
            Form::File => "private_key",
            Form::Camel | Form::CreateKeyResponse => "privateKey",
        }
    }
}

fn from_value(value: &Value, source: &str) -> Result<AuthorizedKey> {
    if !matches!(value, Value::Object(_)) {
        return Err(Error::invalid_key(format!(
            "{source} must be a JSON object (got {})",
            value.type_name()
        )));
    }
    if let Some(what) = mistaken_for_a_key(value) {
        return Err(Error::invalid_key(format!(
            "{source} is not an authorized key: it looks like {what}"
        )));
    }
    let form = Form::of(value);
    let field = |value: &Value, name: &str| string_field(value, name, form);
    let (key_id, sa_id) = match form {
        Form::CreateKeyResponse => {
            let inner = value.get("key");
            (
                field(inner.get("id"), "key.id")?,
                field(inner.get("serviceAccountId"), "key.serviceAccountId")?,
            )
        }
        Form::File => (
            field(value.get("id"), "id")?,
            field(value.get("service_account_id"), "service_account_id")?,
        ),
        Form::Camel => {
            let id = ["id", "keyId", "accessKeyId"]
                .into_iter()
                .find(|name| value.get(name).is_present())
                .unwrap_or("id");
            (
                field(value.get(id), id)?,
                field(value.get("serviceAccountId"), "serviceAccountId")?,
            )
        }
    };
    let pem = field(
        value.get(form.private_key_field()),
        form.private_key_field(),
    )?;
    let (material, key_pair) = key_pair_of_pem(&pem, form)?;
    let identity = identity_of(&key_id, &sa_id, &material);
    Ok(AuthorizedKey {
        key_id,
        service_account_id: sa_id,
        identity,
        key_pair,
    })
}

fn string_field(value: &Value, name: &str, form: Form) -> Result<String> {
    let form = form.describe();
    match value {
        Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Value::String(_) => Err(Error::invalid_key(format!(
            "field \"{name}\" is empty (read the key as {form})"
        ))),
        Value::Missing | Value::Null => Err(Error::invalid_key(format!(
            "field \"{name}\" is missing (read the key as {form})"
        ))),
        other => Err(Error::invalid_key(format!(
            "field \"{name}\" must be a string (got {}; read the key as {form})",
            other.type_name()
        ))),
    }
}

/// Finds the PEM block in the private key field (skipping the "PLEASE DO NOT REMOVE THIS
/// LINE!" marker and anything else before it) and returns the key's DER.
fn private_key_der(pem_text: &str, form: Form) -> Result<Der> {
    let pk = form.private_key_field();
    let Some(start) = pem_text.find("-----BEGIN ") else {
        return Err(Error::invalid_key(format!(
            "field \"{pk}\" holds no PEM block (-----BEGIN PRIVATE KEY-----)"
        )));
    };
    let block = pem::parse(pem_text.get(start..).unwrap_or_default()).map_err(|_| {
        Error::invalid_key(format!(
            "field \"{pk}\" holds a PEM block that does not parse: is it truncated or damaged?"
        ))
    })?;
    match block.tag() {
        "PRIVATE KEY" => Ok(Der::Pkcs8(Zeroizing::new(block.into_contents()))),
        "RSA PRIVATE KEY" => Ok(Der::Pkcs1(Zeroizing::new(block.into_contents()))),
        "PUBLIC KEY" | "RSA PUBLIC KEY" => Err(Error::invalid_key(format!(
            "field \"{pk}\" holds a public key; it needs the authorized key's private key"
        ))),
        "ENCRYPTED PRIVATE KEY" => Err(Error::invalid_key(format!(
            "field \"{pk}\" holds an encrypted private key; decrypt it to PKCS#8 first"
        ))),
        _ => Err(Error::invalid_key(format!(
            "field \"{pk}\" holds a PEM block of another kind; IAM needs an RSA private key \
             (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)"
        ))),
    }
}

enum Der {
    Pkcs8(Zeroizing<Vec<u8>>),
    Pkcs1(Zeroizing<Vec<u8>>),
}

impl Der {
    fn bytes(&self) -> &[u8] {
        match self {
            Der::Pkcs8(b) | Der::Pkcs1(b) => b,
        }
    }
}

/// The cache identity: the key id, the service account id and the key material.
fn identity_of(key_id: &str, sa_id: &str, material: &Identity) -> Identity {
    sha256(&[key_id.as_bytes(), b"\0", sa_id.as_bytes(), b"\0", material])
}

/// What a parsed key pair is kept by: its DER and encoding. The encoding is part of it, so that
/// what a parse accepts never depends on which encoding of the same key was parsed before.
fn material_of(der: &Der) -> Identity {
    let kind: &[u8] = match der {
        Der::Pkcs8(_) => b"pkcs8",
        Der::Pkcs1(_) => b"pkcs1",
    };
    sha256(&[kind, b"\0", der.bytes()])
}

fn sha256(parts: &[&[u8]]) -> Identity {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in parts {
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The material hash a PEM text was found to hold, by a SHA-256 of the text: decoding the PEM's
/// base64 at every call (`createJwt`, each exchange) took ~4% of a signature (perf of a createJwt
/// loop: pem::parser::read_until 2.3%, pem::decode_data 1.8%); hashing the text takes ~1 µs. Only
/// texts that parsed into a kept key pair are remembered, so every error is found as before.
fn pem_materials() -> &'static Mutex<LruMap<Identity, Identity>> {
    static KNOWN: OnceLock<Mutex<LruMap<Identity, Identity>>> = OnceLock::new();
    KNOWN.get_or_init(|| Mutex::new(LruMap::new(MAX_PARSED_KEYS)))
}

/// The material hash and key pair of the private key field's text.
fn key_pair_of_pem(pem_text: &str, form: Form) -> Result<(Identity, Arc<RsaKeyPair>)> {
    let text = sha256(&[b"pem\0", pem_text.as_bytes()]);
    let known = pem_materials()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&text)
        .copied();
    if let Some(material) = known {
        let kept = kept_keys()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&material)
            .cloned();
        if let Some(pair) = kept {
            return Ok((material, pair));
        }
    }
    let der = private_key_der(pem_text, form)?;
    let material = material_of(&der);
    let pair = key_pair_for(material, &der, form)?;
    pem_materials()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(text, material, |_| false);
    Ok((material, pair))
}

fn kept_keys() -> &'static Mutex<LruMap<Identity, Arc<RsaKeyPair>>> {
    static KEPT: OnceLock<Mutex<LruMap<Identity, Arc<RsaKeyPair>>>> = OnceLock::new();
    KEPT.get_or_init(|| Mutex::new(LruMap::new(MAX_PARSED_KEYS)))
}

fn key_pair_for(material: Identity, der: &Der, form: Form) -> Result<Arc<RsaKeyPair>> {
    let kept = kept_keys();
    if let Some(pair) = kept
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&material)
    {
        return Ok(pair.clone());
    }
    let parsed = match der {
        Der::Pkcs8(b) => RsaKeyPair::from_pkcs8(b),
        Der::Pkcs1(b) => RsaKeyPair::from_der(b),
    };
    let pair = parsed.map_err(|rejected| {
        let reason = rejected.description_();
        let hint = if reason.contains("Algorithm") {
            "it is not an RSA key; IAM accepts RSA 2048 or 4096 keys only (not EC or Ed25519)"
        } else if reason.contains("Small") {
            "the RSA key is shorter than 2048 bits"
        } else {
            "the key's DER does not parse as an RSA private key"
        };
        Error::invalid_key(format!(
            "the private key cannot be used: {hint} (read the key as {})",
            form.describe()
        ))
    })?;
    if pair.public_modulus_len() * 8 < MIN_RSA_BITS {
        return Err(Error::invalid_key(format!(
            "the private key is RSA {} bits; IAM needs at least 2048",
            pair.public_modulus_len() * 8
        )));
    }
    let pair = Arc::new(pair);
    kept.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(material, pair.clone(), |_| false);
    Ok(pair)
}

fn too_large(source: &str, len: usize) -> Error {
    Error::invalid_key(format!(
        "{source} is {len} bytes, too large for an authorized key (a key file is a few KB)"
    ))
}

/// A path is shown only when it cannot be something else pasted in by mistake: a credential
/// passed where a key belongs (an IAM token, a JWT, an OAuth token) is not a path to echo.
fn display_path(path: &str) -> String {
    crate::redact::caller_text(path)
}

trait ClassifyMessage {
    fn classify_message(&self) -> String;
}

impl ClassifyMessage for serde_json::Error {
    fn classify_message(&self) -> String {
        let what = match self.classify() {
            serde_json::error::Category::Eof => "it ends too soon",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Io => "read error",
        };
        format!("{what} at line {} column {}", self.line(), self.column())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::test_support::{key_file_json, rsa_2048, rsa_2048_other};
    use serde_json::json;

    fn object(v: serde_json::Value) -> KeyInput {
        KeyInput::Object(Value::from_json(v))
    }

    fn invalid_key(input: KeyInput) -> Error {
        let e = load(input).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidKey, "{}", e.message);
        assert!(!e.message.contains("MII"), "key material in: {}", e.message);
        e
    }

    #[test]
    fn every_form_is_one_identity() {
        let file = key_file_json(rsa_2048(), "ajekey1");
        let text = file.to_string();
        let pem = file["private_key"].as_str().unwrap().to_string();
        let dir = std::env::temp_dir().join(format!("yc-key-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key.json");
        std::fs::write(&path, format!("\u{feff}{}", text.replace("\\n", "\\r\\n"))).unwrap();

        let forms = [
            object(file.clone()),
            KeyInput::Text(format!("  \n{text}")),
            KeyInput::Text(path.to_string_lossy().into_owned()),
            KeyInput::Bytes(text.clone().into_bytes()),
            object(
                json!({"keyId": "ajekey1", "serviceAccountId": "ajesa0000000000000000", "privateKey": pem}),
            ),
            object(
                json!({"accessKeyId": "ajekey1", "serviceAccountId": "ajesa0000000000000000", "privateKey": pem}),
            ),
            object(
                json!({"key": {"id": "ajekey1", "serviceAccountId": "ajesa0000000000000000"}, "privateKey": pem}),
            ),
        ];
        let identities: Vec<Identity> = forms
            .into_iter()
            .map(|f| load(f).unwrap().identity)
            .collect();
        assert!(identities.windows(2).all(|w| w[0] == w[1]));

        let other = load(object(key_file_json(rsa_2048_other(), "ajekey1"))).unwrap();
        assert_ne!(
            other.identity, identities[0],
            "same id, another private key: another identity"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn what_users_pass_by_mistake_is_named() {
        for (json, says) in [
            (
                r#"{"token":{"access_token":"t1.x","expires_in":1}}"#,
                "tokenFromContext",
            ),
            (r#"{"access_token":"t1.x","expires_in":1}"#, "whole context"),
            (
                r#"{"name":"app","version":"1.0.0","dependencies":{}}"#,
                "package.json",
            ),
            (
                r#"{"id":"aje","service_account_id":"aje","public_key":"-----BEGIN PUBLIC KEY-----"}"#,
                "public half",
            ),
        ] {
            let e = load(KeyInput::Text(json.into())).unwrap_err();
            assert_eq!(e.code, crate::ErrorCode::InvalidKey);
            assert!(e.message.contains(says), "{json}: {}", e.message);
            assert!(!e.message.contains("t1.x"));
        }
    }

    #[test]
    fn bad_inputs_name_what_is_wrong() {
        let good = key_file_json(rsa_2048(), "ajekey1");
        let mut missing = good.clone();
        missing
            .as_object_mut()
            .unwrap()
            .remove("service_account_id");
        assert!(invalid_key(object(missing))
            .message
            .contains("\"service_account_id\""));
        let mut wrong_type = good.clone();
        wrong_type["id"] = json!(42);
        assert!(invalid_key(object(wrong_type))
            .message
            .contains("must be a string"));
        let mut public = good.clone();
        public["private_key"] = json!("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----\n");
        assert!(invalid_key(object(public)).message.contains("public key"));
        let mut truncated = good.clone();
        let pem = good["private_key"].as_str().unwrap();
        truncated["private_key"] = json!(&pem[..pem.len() / 2]);
        invalid_key(object(truncated));
        let mut no_pem = good.clone();
        no_pem["private_key"] = json!("not a key");
        assert!(invalid_key(object(no_pem)).message.contains("no PEM"));

        invalid_key(KeyInput::Text("{not json".into()));
        invalid_key(KeyInput::Text("/no/such/key.json".into()));
        invalid_key(KeyInput::Bytes(vec![0xff, 0xfe, 0x00]));
        invalid_key(KeyInput::Text(format!(
            "{{\"x\":\"{}\"}}",
            "a".repeat(10 << 20)
        )));
        for credential in [
            "t1.9euelZqSyprOjZLSyc2OlZKekpSTke3rnpWajZqSm5rJmZLMl5mPz8aOx8",
            "eyJhbGciOiJQUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln",
        ] {
            let e = invalid_key(KeyInput::Text(credential.into()));
            assert!(!e.message.contains(&credential[..10]), "{}", e.message);
        }
        let pem_as_path = invalid_key(KeyInput::Text(rsa_2048().pkcs8_pem.clone()));
        assert!(pem_as_path.message.contains("PEM text"));
    }

    #[test]
    fn key_paths_must_name_small_regular_files() {
        let dir = std::env::temp_dir().join(format!("yc-key-paths-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cases = vec![
            (dir.to_string_lossy().into_owned(), "(a directory)"),
            ("/dev/zero".to_string(), "(a character device)"),
            ("/dev/urandom".to_string(), "(a character device)"),
        ];
        #[cfg(unix)]
        {
            let fifo = dir.join("fifo");
            let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            cases.push((fifo.to_string_lossy().into_owned(), "(a FIFO (named pipe))"));
        }
        for (path, kind) in cases {
            let e = invalid_key(KeyInput::Text(path.clone()));
            assert!(
                e.message.contains("is not a regular file"),
                "{path}: {}",
                e.message
            );
            assert!(e.message.contains(kind), "{path}: {}", e.message);
        }
        // Larger than the limit: refused, whatever the content.
        let big = dir.join("big.json");
        let file = std::fs::File::create(&big).unwrap();
        file.set_len(100 << 20).unwrap(); // sparse: 100 MB reported, nothing on disk
        let e = invalid_key(KeyInput::Text(big.to_string_lossy().into_owned()));
        assert!(e.message.contains("too large"), "{}", e.message);
        let long = invalid_key(KeyInput::Text("a/".repeat(MAX_PATH_CHARS)));
        assert!(
            long.message.contains("too long for a path"),
            "{}",
            long.message
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_key_file_is_read_under_the_deadline() {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        let e = load_within(KeyInput::Text("/dev/zero".into()), deadline)
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidKey);
        let passed = tokio::time::Instant::now();
        let e = load_within(KeyInput::Text("/dev/zero".into()), passed)
            .await
            .unwrap_err();
        assert!(matches!(e.code, ErrorCode::InvalidKey | ErrorCode::Timeout));
        // Not a path: loaded at once.
        let text = key_file_json(rsa_2048(), "ajekey1").to_string();
        assert!(load_within(KeyInput::Text(text), passed).await.is_ok());
    }

    #[test]
    fn other_algorithms_are_refused() {
        use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let ec = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let ed = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        for der in [ec.as_ref().to_vec(), ed.as_ref().to_vec()] {
            let mut file = key_file_json(rsa_2048(), "ajekey1");
            file["private_key"] = json!(pem::encode(&pem::Pem::new("PRIVATE KEY", der)));
            assert!(invalid_key(object(file)).message.contains("not an RSA key"));
        }
    }
}
