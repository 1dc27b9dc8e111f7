//! What an operator (or an assignment) wants of an inbound channel, and why such a wish
//! can fail.

/// What an operator wants of an inbound channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Desired {
    Running,
    Paused,
    Closed,
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("a channel from region '{0}' is already open")]
    Exists(String),
    #[error("no channel from region '{0}'")]
    NotFound(String),
}
