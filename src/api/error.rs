use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

/// The one error type of the server-function layer. It travels to the browser as JSON; the
/// server maps each variant to its HTTP status in one place (`ApiError::status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    #[error("Please sign in.")]
    Unauthenticated,
    /// The same answer for an unknown user, a wrong password and a disabled account.
    #[error("Wrong user name or password.")]
    WrongCredentials,
    #[error("{0}")]
    Forbidden(String),
    /// Bad input for one form field; the form shows `message` next to `field`.
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// Details stay in the server log; the browser gets a reference-free sentence.
    #[error("Something went wrong on the server; the details are in its log.")]
    Internal,
    /// The server runs but its database does not answer (the proxy keeps serving meanwhile).
    #[error("The database is not answering, so this cannot be shown or changed right now. The proxy keeps serving requests from memory and keeps their usage until the database is back; try again in a moment.")]
    DatabaseUnavailable,
    /// The browser could not reach the server or read its answer.
    #[error("Could not reach the server: {0}")]
    Unreachable(String),
}

impl ApiError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// Logs the cause (server side) and hides it from the caller.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        #[cfg(feature = "ssr")]
        tracing::error!(error = %cause, "server function failed");
        #[cfg(not(feature = "ssr"))]
        let _ = cause;
        ApiError::Internal
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::Unauthenticated | ApiError::WrongCredentials => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::Invalid { .. } | ApiError::BadRequest(_) => 400,
            ApiError::NotFound(_) => 404,
            ApiError::TooManyRequests(_) => 429,
            ApiError::Internal => 500,
            ApiError::DatabaseUnavailable => 503,
            ApiError::Unreachable(_) => 502,
        }
    }

    /// The message to show beside `field`, when this error is about that field.
    pub fn for_field(&self, field: &str) -> Option<String> {
        match self {
            ApiError::Invalid { field: f, message } if f == field => Some(message.clone()),
            _ => None,
        }
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(m) => ApiError::BadRequest(format!("Invalid input: {m}")),
            ServerFnErrorErr::MissingArg(m) => ApiError::BadRequest(format!("Missing field: {m}")),
            // On the server these are about the caller's body: a value of the wrong type.
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Request(m) | ServerFnErrorErr::Deserialization(m) => {
                ApiError::BadRequest(format!("Invalid input: {m}"))
            }
            // In the browser, the server's answer did not arrive or could not be read.
            #[cfg(not(feature = "ssr"))]
            ServerFnErrorErr::Request(m) | ServerFnErrorErr::Deserialization(m) => {
                ApiError::Unreachable(m)
            }
            other => ApiError::internal(other),
        }
    }
}
