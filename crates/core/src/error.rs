//! The one error type of the package. Every failure a caller can see is an [`Error`] with one
//! of the stable codes of the design contract; the napi layer turns it into a JS `Error` with
//! `code` and `status` in one place (`lib.rs`).

use std::fmt;
use std::time::Duration;

/// The stable `code` of a failure, as JavaScript sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidArg,
    InvalidKey,
    NoServiceAccount,
    IamRejected,
    Unavailable,
    Timeout,
    Aborted,
    InvalidResponse,
    /// A bug in this package (a caught panic), never a user's mistake.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArg => "ERR_INVALID_ARG",
            ErrorCode::InvalidKey => "ERR_INVALID_KEY",
            ErrorCode::NoServiceAccount => "ERR_NO_SERVICE_ACCOUNT",
            ErrorCode::IamRejected => "ERR_IAM_REJECTED",
            ErrorCode::Unavailable => "ERR_UNAVAILABLE",
            ErrorCode::Timeout => "ERR_TIMEOUT",
            ErrorCode::Aborted => "ABORT_ERR",
            ErrorCode::InvalidResponse => "ERR_INVALID_RESPONSE",
            ErrorCode::Internal => "ERR_INTERNAL",
        }
    }
}

impl AsRef<str> for ErrorCode {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// A failure. `message` never holds a private key, a JWT or a token: producers build it from
/// field names, sizes, URLs and short excerpts of IAM's own error message only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    /// The HTTP status of the answer that caused the failure, if an answer did.
    pub status: Option<u16>,
    /// How long the server asked us to wait (`Retry-After`), for the retry loop only.
    pub(crate) retry_after: Option<Duration>,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            status: None,
            retry_after: None,
        }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub fn invalid_arg(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArg, message)
    }

    pub fn invalid_key(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidKey, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }

    pub fn invalid_response(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidResponse, message)
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Timeout, message)
    }

    /// A panic caught at the boundary: its payload is not shown (it could say anything).
    pub fn internal() -> Self {
        Self::new(
            ErrorCode::Internal,
            "internal error in yc-iam-token (a bug): please report it with the steps that led here",
        )
    }

    pub fn aborted() -> Self {
        Self::new(ErrorCode::Aborted, "The operation was aborted")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
