//! The napi layer: JS arguments in, promises and JS errors out. Nothing here decides anything
//! about tokens (defaults, limits, environment rules): that is the core crate's job
//! (`yc_iam_token_core::api`).
//!
//! Arguments are read by hand from `Unknown` rather than with `#[napi(object)]` structs: a
//! derived struct reads every field it declares with a blanket conversion, so a wrong type
//! becomes napi-rs's own error instead of the documented `code`, "missing" and "null" and
//! "wrong type" cannot be told apart, a throwing getter's exception escapes as it is, and a
//! multi-megabyte string is copied before anything can refuse it. Reading by hand touches
//! only the fields the core asks for, refuses over-long strings before copying them, and
//! turns every failure into an `Error` with a `code`.

#![deny(clippy::all)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::{JsString, JsValue, ValueType};
use napi_derive::napi;
use tokio::sync::watch;

use yc_iam_token_core::api::{
    self, CallSettings, FederationOptions, JwtOptions, KeyOptions, MetadataOptions, OAuthOptions,
    ProfileOptions, ProfileOutcome, ProfileToken,
};
use yc_iam_token_core::env as core_env;
use yc_iam_token_core::key::KeyInput;
use yc_iam_token_core::value::Value;
use yc_iam_token_core::{cache, limits, Cached, Error, ErrorCode};
use zeroize::Zeroizing;

/// Two runtime workers: signing (~1 ms a JWT) and a few sockets need no more, and napi-rs's
/// default of one worker per core would start 64 threads on a 64-core host.
const RUNTIME_WORKERS: usize = 2;

#[napi_derive::module_init]
fn init() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(RUNTIME_WORKERS)
        .thread_name("yc-iam-token")
        .enable_all()
        .build();
    // Should it fail, napi-rs builds its default runtime at first use instead.
    if let Ok(runtime) = runtime {
        napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
    }
}

/// A token as the JS wrapper receives it (`index.js` turns it into an `IamToken`).
#[napi(object)]
pub struct NativeToken {
    pub access_token: String,
    pub expires_at_ms: f64,
    pub token_type: String,
    /// How long the token may be handed out again without asking the native cache.
    pub fresh_for_ms: f64,
    /// Where it came from: "fetched", "cache", "stale" or "fallback" (debug output, metrics).
    pub origin: String,
}

impl From<Cached> for NativeToken {
    fn from(cached: Cached) -> Self {
        NativeToken {
            access_token: cached.token.access_token,
            expires_at_ms: cached.token.expires_at_ms,
            token_type: "Bearer".into(),
            fresh_for_ms: cached.fresh_for.as_secs_f64() * 1000.0,
            origin: cached.origin.as_str().into(),
        }
    }
}

/// Lets the JS wrapper stop a call when the caller's `AbortSignal` fires.
#[napi]
pub struct Cancel {
    fired: watch::Sender<bool>,
}

#[napi]
impl Cancel {
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Cancel {
            fired: watch::channel(false).0,
        }
    }

    #[napi]
    pub fn cancel(&self) {
        self.fired.send_replace(true);
    }
}

#[napi(ts_return_type = "Promise<NativeToken>")]
pub fn token_from_key<'env>(
    env: &'env Env,
    key: Unknown<'env>,
    options: Option<Unknown<'env>>,
    cancel: Option<&Cancel>,
    process_env: Option<Unknown<'env>>,
) -> Result<Unknown<'env>> {
    let request = guard(|| {
        let options = read_options(options, KEY_OPTIONS)?;
        let key_options = KeyOptions {
            endpoint: opt_string(&options, "endpoint")?,
            audience: opt_string(&options, "audience")?,
            call: call_settings(&options)?,
        };
        Ok((key_input(key)?, key_options, read_env(process_env)?))
    });
    match request {
        // Called here, not in the task: the call (its deadline, its place in the cache's
        // single flight) starts now.
        Ok((key, options, process_env)) => {
            spawn(env, cancel, api::token_from_key(key, options, &process_env))
        }
        Err(e) => rejected(env, &e),
    }
}

#[napi(ts_return_type = "Promise<NativeToken>")]
pub fn token_from_metadata<'env>(
    env: &'env Env,
    options: Option<Unknown<'env>>,
    cancel: Option<&Cancel>,
    process_env: Option<Unknown<'env>>,
) -> Result<Unknown<'env>> {
    let request = guard(|| {
        let options = read_options(options, METADATA_OPTIONS)?;
        let metadata_options = MetadataOptions {
            endpoint: opt_string(&options, "endpoint")?,
            call: call_settings(&options)?,
        };
        Ok((metadata_options, read_env(process_env)?))
    });
    match request {
        // Called here, on the JS thread: the call's start (deadline, single flight) is now.
        Ok((options, process_env)) => {
            spawn(env, cancel, api::token_from_metadata(options, &process_env))
        }
        Err(e) => rejected(env, &e),
    }
}

#[napi(ts_return_type = "Promise<NativeToken>")]
pub fn token_from_federation<'env>(
    env: &'env Env,
    options: Option<Unknown<'env>>,
    cancel: Option<&Cancel>,
    process_env: Option<Unknown<'env>>,
) -> Result<Unknown<'env>> {
    let request = guard(|| {
        let options = read_options(options, FEDERATION_OPTIONS)?;
        let federation_options = FederationOptions {
            service_account_id: opt_string(&options, "serviceAccountId")?,
            subject_token: opt_string(&options, "subjectToken")?,
            subject_token_file: opt_string(&options, "subjectTokenFile")?,
            audience: opt_string(&options, "audience")?,
            endpoint: opt_string(&options, "endpoint")?,
            call: call_settings(&options)?,
        };
        Ok((federation_options, read_env(process_env)?))
    });
    match request {
        // Called here, on the JS thread: the call's start (deadline, single flight) is now.
        Ok((options, process_env)) => spawn(
            env,
            cancel,
            api::token_from_federation(options, &process_env),
        ),
        Err(e) => rejected(env, &e),
    }
}

/// Why federation is not getToken's source here (null when it is): the core's rule over
/// YC_SERVICE_ACCOUNT_ID, YC_ID_TOKEN, YC_ID_TOKEN_FILE and GitHub Actions' variables.
/// index.js decides it in JS (lib/sources.js, so that getToken needs no binary to get as far
/// as YC_IAM_TOKEN); this is the reference a test holds that copy to.
#[napi(ts_return_type = "string | null")]
pub fn federation_applies(process_env: Option<Unknown>) -> Result<Option<String>> {
    let process_env = read_env(process_env).map_err(|e| napi::Error::from_reason(e.message))?;
    Ok(api::federation_applies(&process_env).err())
}

/// Why the yc profile cannot apply, from one `stat` of its config path (no file, no HOME); null
/// when there is a config to read. Synchronous and cheap: getToken asks it on every call that
/// gets that far (a VM's getToken() then costs microseconds, not a trip through the runtime).
#[napi]
pub fn profile_absent(process_env: Option<Unknown>) -> Result<Option<String>> {
    let process_env = match process_env {
        None => core_env::Env::process_only(yc_iam_token_core::profile::HOME_VARS),
        given => read_env(given).map_err(|e| napi::Error::from_reason(e.message))?,
    };
    Ok(api::profile_absent(&process_env))
}

/// A user's OAuth token exchanged at IAM (getToken's YC_TOKEN).
#[napi(ts_return_type = "Promise<NativeToken>")]
pub fn token_from_oauth<'env>(
    env: &'env Env,
    token: Unknown<'env>,
    options: Option<Unknown<'env>>,
    cancel: Option<&Cancel>,
    process_env: Option<Unknown<'env>>,
) -> Result<Unknown<'env>> {
    let request = guard(|| {
        let token = read_value(token, &[])
            .map_err(|_| Error::invalid_arg("the OAuth token cannot be read"))?;
        let token = match &token {
            Value::String(token) => Zeroizing::new(token.clone()),
            other => {
                return Err(Error::invalid_arg(format!(
                    "the OAuth token must be a string (got {})",
                    other.type_name()
                )))
            }
        };
        let options = read_options(options, KEY_OPTIONS)?;
        let oauth_options = OAuthOptions {
            endpoint: opt_string(&options, "endpoint")?,
            call: call_settings(&options)?,
        };
        Ok((token, oauth_options, read_env(process_env)?))
    });
    match request {
        Ok((token, options, process_env)) => spawn(
            env,
            cancel,
            api::token_from_oauth(token, options, &process_env),
        ),
        Err(e) => rejected(env, &e),
    }
}

/// What getToken's `yc` profile step found: a token and its source, or why the profile is
/// no source here.
#[napi(object)]
pub struct NativeProfileAnswer {
    /// The token; its `expiresAtMs` is NaN when the expiry is not known (yc's output, an IAM
    /// token in the profile).
    pub token: Option<NativeToken>,
    /// `profile`, or `yc` when the token came from running `yc iam create-token`.
    pub source: Option<String>,
    /// The profile's name.
    pub profile: Option<String>,
    /// Why the profile does not apply.
    pub reason: Option<String>,
}

impl From<ProfileOutcome> for NativeProfileAnswer {
    fn from(outcome: ProfileOutcome) -> Self {
        match outcome {
            ProfileOutcome::Token {
                token,
                kind,
                profile,
            } => NativeProfileAnswer {
                token: Some(match token {
                    ProfileToken::Exchanged(cached) => NativeToken::from(cached),
                    ProfileToken::AsIs(access_token) => NativeToken {
                        access_token,
                        expires_at_ms: f64::NAN,
                        token_type: "Bearer".into(),
                        fresh_for_ms: 0.0,
                        origin: "fetched".into(),
                    },
                }),
                source: Some(kind.source().into()),
                profile: Some(profile),
                reason: None,
            },
            ProfileOutcome::DoesNotApply(reason) => NativeProfileAnswer {
                token: None,
                source: None,
                profile: None,
                reason: Some(reason),
            },
        }
    }
}

/// getToken's `yc` profile step: YC_PROFILE's profile, else the config's `current` one.
#[napi(ts_return_type = "Promise<NativeProfileAnswer>")]
pub fn token_from_profile<'env>(
    env: &'env Env,
    options: Option<Unknown<'env>>,
    cancel: Option<&Cancel>,
    process_env: Option<Unknown<'env>>,
) -> Result<Unknown<'env>> {
    let request = guard(|| {
        let options = read_options(options, KEY_OPTIONS)?;
        let profile_options = ProfileOptions {
            endpoint: opt_string(&options, "endpoint")?,
            call: call_settings(&options)?,
        };
        Ok((profile_options, read_env(process_env)?))
    });
    match request {
        Ok((options, process_env)) => spawn_with(
            env,
            cancel,
            api::token_from_profile(options, &process_env),
            NativeProfileAnswer::from,
        ),
        Err(e) => rejected(env, &e),
    }
}

#[napi(ts_return_type = "string")]
pub fn create_jwt<'env>(
    env: &'env Env,
    key: Unknown,
    options: Option<Unknown>,
) -> Result<JsString<'env>> {
    let jwt = guard(|| {
        let options = read_options(options, JWT_OPTIONS)?;
        let jwt_options = JwtOptions {
            audience: opt_string(&options, "audience")?,
            lifetime_sec: opt_number(&options, "lifetimeSec")?,
        };
        api::create_jwt(key_input(key)?, jwt_options)
    });
    match jwt {
        // Straight into a JS string: the Rust copy is wiped when `jwt` drops.
        Ok(jwt) => env.create_string(jwt.expose()),
        Err(e) => Err(thrown(env, &e)),
    }
}

/// The bounds the native side enforces, for the JS fast path (one home for each rule).
#[napi(object)]
pub struct Limits {
    pub max_timeout_ms: f64,
    pub max_retries: u32,
    pub max_input_bytes: u32,
    pub max_path_chars: u32,
    pub max_token_chars: u32,
    pub max_token_lifetime_sec: f64,
    pub max_cache_entries: u32,
    /// The environment variables the native side reads, for `index.js` to hand over.
    pub env_names: Vec<String>,
}

#[napi]
pub fn limits() -> Limits {
    Limits {
        max_timeout_ms: limits::MAX_TIMEOUT_MS,
        max_retries: limits::MAX_RETRIES,
        max_input_bytes: limits::MAX_INPUT_BYTES as u32,
        max_path_chars: limits::MAX_PATH_CHARS as u32,
        max_token_chars: limits::MAX_TOKEN_CHARS as u32,
        max_token_lifetime_sec: limits::MAX_TOKEN_LIFETIME.as_secs_f64(),
        max_cache_entries: limits::MAX_CACHE_ENTRIES as u32,
        env_names: core_env::NAMES.iter().map(|n| n.to_string()).collect(),
    }
}

/// Moves the cache's clock forward (tests only: it makes cached tokens look older).
#[napi(js_name = "_advanceClockForTesting")]
pub fn advance_clock_for_testing(ms: f64) {
    if ms.is_finite() && ms > 0.0 {
        cache::global()
            .clock
            .advance(Duration::from_secs_f64(ms / 1000.0));
    }
}

/// Empties the token cache (tests only).
#[napi(js_name = "_clearCacheForTesting")]
pub fn clear_cache_for_testing() {
    cache::global().clear();
}

// ---- futures to promises, errors to JS ----

fn spawn<'env>(
    env: &'env Env,
    cancel: Option<&Cancel>,
    work: impl std::future::Future<Output = yc_iam_token_core::Result<Cached>> + Send + 'static,
) -> Result<Unknown<'env>> {
    spawn_with(env, cancel, work, NativeToken::from)
}

/// Runs `work` on the runtime as a promise of `convert`'s value, stopped by `cancel`.
fn spawn_with<'env, T, V>(
    env: &'env Env,
    cancel: Option<&Cancel>,
    work: impl std::future::Future<Output = yc_iam_token_core::Result<T>> + Send + 'static,
    convert: fn(T) -> V,
) -> Result<Unknown<'env>>
where
    T: Send + 'static,
    V: ToNapiValue + 'static,
{
    let mut cancelled = cancel.map(|c| c.fired.subscribe());
    let future = async move {
        // Its own task, so that a panic in it becomes ERR_INTERNAL instead of a lost promise.
        let mut task = tokio::spawn(work);
        let outcome = match cancelled.as_mut() {
            // Biased: a signal that fired before the call wins over a token already cached.
            Some(cancelled) => tokio::select! {
                biased;
                _ = cancelled.wait_for(|fired| *fired) => {
                    task.abort();
                    Err(Error::aborted())
                }
                joined = &mut task => joined.unwrap_or_else(|_| Err(Error::internal())),
            },
            None => task.await.unwrap_or_else(|_| Err(Error::internal())),
        };
        Ok(outcome)
    };
    let promise = env.spawn_future_with_callback(future, move |env, outcome| match outcome {
        Ok(value) => Ok(convert(value)),
        Err(e) => Err(napi::Error::from(js_error(env, &e)?)),
    })?;
    Ok(promise.to_unknown())
}

/// Runs the synchronous part of a call, turning a panic into ERR_INTERNAL.
fn guard<T>(work: impl FnOnce() -> yc_iam_token_core::Result<T>) -> yc_iam_token_core::Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
        .unwrap_or_else(|_| Err(Error::internal()))
}

fn rejected<'env>(env: &'env Env, e: &Error) -> Result<Unknown<'env>> {
    let error = js_error(env, e)?;
    Ok(PromiseRaw::<NativeToken>::reject(env, error)?.to_unknown())
}

fn thrown(env: &Env, e: &Error) -> napi::Error {
    match js_error(env, e) {
        Ok(error) => napi::Error::from(error),
        Err(other) => other,
    }
}

/// The one place a Rust error becomes a JS `Error`: `code`, `status` where an HTTP answer
/// caused it, and `name` `AbortError` for aborts (as `fetch` does).
fn js_error<'env>(env: &'env Env, e: &Error) -> Result<Unknown<'env>> {
    let mut error = env.create_error(napi::Error::from_reason(e.message.clone()))?;
    error.set_named_property("code", e.code.as_str())?;
    if let Some(status) = e.status {
        error.set_named_property("status", u32::from(status))?;
    }
    if e.code == ErrorCode::Aborted {
        error.set_named_property("name", "AbortError")?;
    }
    Ok(error.to_unknown())
}

// ---- JS values to the core's inputs ----

/// Which fields of an object to read (and, for nested objects, which of theirs): reading only
/// these keeps a cyclic or huge object harmless.
type Fields = &'static [Field];
struct Field(&'static str, Fields);

const KEY_FIELDS: Fields = &[
    Field("id", &[]),
    Field("keyId", &[]),
    Field("accessKeyId", &[]),
    Field("service_account_id", &[]),
    Field("serviceAccountId", &[]),
    Field("private_key", &[]),
    Field("privateKey", &[]),
    Field("key", &[Field("id", &[]), Field("serviceAccountId", &[])]),
    // Only to name what was passed by mistake (a context, a package.json, a public key).
    Field("token", &[]),
    Field("requestId", &[]),
    Field("access_token", &[]),
    Field("dependencies", &[]),
    Field("devDependencies", &[]),
    Field("name", &[]),
    Field("version", &[]),
    Field("public_key", &[]),
    Field("publicKey", &[]),
];
const KEY_OPTIONS: Fields = &[
    Field("timeoutMs", &[]),
    Field("retries", &[]),
    Field("cache", &[]),
    Field("endpoint", &[]),
    Field("audience", &[]),
];
const METADATA_OPTIONS: Fields = &[
    Field("timeoutMs", &[]),
    Field("retries", &[]),
    Field("cache", &[]),
    Field("endpoint", &[]),
];
const FEDERATION_OPTIONS: Fields = &[
    Field("timeoutMs", &[]),
    Field("retries", &[]),
    Field("cache", &[]),
    Field("endpoint", &[]),
    Field("serviceAccountId", &[]),
    Field("subjectToken", &[]),
    Field("subjectTokenFile", &[]),
    Field("audience", &[]),
];
const JWT_OPTIONS: Fields = &[Field("audience", &[]), Field("lifetimeSec", &[])];

fn read_value(value: Unknown, fields: Fields) -> Result<Value> {
    Ok(match value.get_type()? {
        ValueType::Undefined => Value::Missing,
        ValueType::Null => Value::Null,
        ValueType::Boolean => Value::Bool(unsafe { value.cast::<bool>() }?),
        ValueType::Number => Value::Number(unsafe { value.cast::<f64>() }?),
        ValueType::String => match short_string(value)? {
            Some(s) => Value::String(s),
            None => Value::Other("an over-long string"),
        },
        ValueType::Object if value.is_array()? => Value::Other("array"),
        ValueType::Object if value.is_buffer()? => Value::Other("Buffer"),
        ValueType::Object => {
            let object = unsafe { value.cast::<Object>() }?;
            let mut out = Vec::with_capacity(fields.len());
            for Field(name, nested) in fields {
                let field: Unknown = object.get_named_property(name)?;
                out.push((name.to_string(), read_value(field, nested)?));
            }
            Value::Object(out)
        }
        ValueType::Function => Value::Other("function"),
        ValueType::Symbol => Value::Other("symbol"),
        ValueType::BigInt => Value::Other("bigint"),
        _ => Value::Other("value of another kind"),
    })
}

/// Strings longer than this are not copied out of JS at all: nothing the package reads (a key,
/// a URL, a token) is that long, and copying megabytes per call would be a denial of service.
const MAX_STRING_CHARS: usize = limits::MAX_INPUT_BYTES;

fn short_string(value: Unknown) -> Result<Option<String>> {
    let string = unsafe { value.cast::<JsString>() }?;
    if string.utf16_len()? > MAX_STRING_CHARS {
        return Ok(None);
    }
    Ok(Some(string.into_utf8()?.into_owned()?))
}

fn key_input(key: Unknown) -> std::result::Result<KeyInput, Error> {
    let invalid = |got: &str| {
        Error::invalid_arg(format!(
            "key must be the authorized key as an object, its JSON text, a path to its file, or a Buffer (got {got})"
        ))
    };
    let napi_failed = |_| invalid("a value that cannot be read");
    match key.get_type().map_err(napi_failed)? {
        // Not copied out of JS when it is longer than any key could be.
        ValueType::String => match short_string(key).map_err(napi_failed)? {
            Some(text) => Ok(KeyInput::Text(text)),
            None => Err(Error::invalid_key(format!(
                "the key string is longer than {} characters: too large for an authorized key or its path",
                limits::MAX_INPUT_BYTES
            ))),
        },
        ValueType::Object if key.is_buffer().map_err(napi_failed)? => {
            let bytes = unsafe { key.cast::<&[u8]>() }.map_err(napi_failed)?;
            if bytes.len() > limits::MAX_INPUT_BYTES {
                return Err(Error::invalid_key(format!(
                    "key Buffer is {} bytes, too large for an authorized key (a key file is a few KB)",
                    bytes.len()
                )));
            }
            Ok(KeyInput::Bytes(bytes.to_vec()))
        }
        ValueType::Object => match read_value(key, KEY_FIELDS).map_err(napi_failed)? {
            Value::Other(got) => Err(invalid(got)),
            value => Ok(KeyInput::Object(value)),
        },
        _ => Err(invalid(
            read_value(key, &[]).map_err(napi_failed)?.type_name(),
        )),
    }
}

fn read_options(options: Option<Unknown>, fields: Fields) -> std::result::Result<Value, Error> {
    let Some(options) = options else {
        return Ok(Value::Missing);
    };
    let value =
        read_value(options, fields).map_err(|_| Error::invalid_arg("options cannot be read"))?;
    match value {
        Value::Missing | Value::Null | Value::Object(_) => Ok(value),
        other => Err(Error::invalid_arg(format!(
            "options must be an object (got {})",
            other.type_name()
        ))),
    }
}

fn call_settings(options: &Value) -> yc_iam_token_core::Result<CallSettings> {
    // `signal` is index.js's: it checks it and wires it to a `Cancel`.
    Ok(CallSettings {
        timeout_ms: opt_number(options, "timeoutMs")?,
        retries: opt_number(options, "retries")?,
        cache: opt_bool(options, "cache")?,
    })
}

/// The environment as the runtime keeps it (`process.env`, handed over by `index.js`: Bun's
/// and Deno's are not the C environment); the C environment when none is given.
fn read_env(process_env: Option<Unknown>) -> yc_iam_token_core::Result<core_env::Env> {
    let Some(process_env) = process_env else {
        return Ok(core_env::Env::process());
    };
    let unreadable = |_| Error::invalid_arg("the environment cannot be read");
    let object = match process_env.get_type().map_err(unreadable)? {
        ValueType::Object => unsafe { process_env.cast::<Object>() }.map_err(unreadable)?,
        ValueType::Undefined | ValueType::Null => return Ok(core_env::Env::process()),
        _ => return Err(Error::invalid_arg("the environment must be an object")),
    };
    let mut pairs = Vec::new();
    for name in core_env::NAMES {
        let value: Unknown = object.get_named_property(name).map_err(unreadable)?;
        if let Value::String(value) = &read_value(value, &[]).map_err(unreadable)? {
            pairs.push((name.to_string(), value.clone()));
        }
    }
    Ok(core_env::Env::from_pairs(pairs))
}

fn opt_string(options: &Value, name: &str) -> yc_iam_token_core::Result<Option<String>> {
    match options.get(name) {
        Value::Missing => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(wrong_option(name, "a string", other)),
    }
}

fn opt_number(options: &Value, name: &str) -> yc_iam_token_core::Result<Option<f64>> {
    match options.get(name) {
        Value::Missing => Ok(None),
        Value::Number(n) => Ok(Some(*n)),
        other => Err(wrong_option(name, "a number", other)),
    }
}

fn opt_bool(options: &Value, name: &str) -> yc_iam_token_core::Result<Option<bool>> {
    match options.get(name) {
        Value::Missing => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        other => Err(wrong_option(name, "a boolean", other)),
    }
}

fn wrong_option(name: &str, expected: &str, got: &Value) -> Error {
    Error::invalid_arg(format!(
        "options.{name} must be {expected} (got {})",
        got.type_name()
    ))
}
