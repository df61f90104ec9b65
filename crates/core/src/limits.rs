//! Every bound the package enforces on what callers pass and servers send, in one place.
//! The napi layer exports these to `index.js`, so the JS fast path can never answer a call
//! that the native side would reject.

use std::time::Duration;

/// An authorized key file is ~2.4 KB (RSA 2048) or ~4.5 KB (RSA 4096); a key input, a key
/// file, a subject token file or a config file larger than this is refused.
pub const MAX_INPUT_BYTES: usize = 64 * 1024;
/// Larger answers are cut off and rejected: a token answer is well under 1 KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// `timeoutMs`: positive, at most one hour.
pub const MAX_TIMEOUT_MS: f64 = 3_600_000.0;
/// `retries`: a whole number 0..=10.
pub const MAX_RETRIES: u32 = 10;
/// `lifetimeSec` of a JWT: 1..=3600 (IAM accepts at most an hour).
pub const MAX_JWT_LIFETIME_SECS: u64 = 3600;
/// IAM tokens live at most 12 hours; a source that claims more is not believed.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Longest path the package will open.
pub const MAX_PATH_CHARS: usize = 4096;
/// Longest token (IAM, OAuth, subject) the package accepts (IAM tokens are ~300 characters,
/// OIDC JWTs a few KB).
pub const MAX_TOKEN_CHARS: usize = 16 * 1024;
/// `SSL_CERT_FILE`: a CA bundle (the system's is ~220 KB) larger than this is refused.
pub const MAX_CA_BUNDLE_BYTES: usize = 4 * 1024 * 1024;
/// HTTP clients kept at once, one per (service, proxy, CA bundle): more is emptied and
/// started again (a process uses one or two).
pub const MAX_HTTP_CLIENTS: usize = 8;
/// Token cache entries kept (one per key or source and endpoint); the least recently used go
/// first, and entries whose tokens have expired go before them.
pub const MAX_CACHE_ENTRIES: usize = 1024;
/// Parsed RSA keys kept for signing (parsing one costs ~1 ms).
pub const MAX_PARSED_KEYS: usize = 256;
