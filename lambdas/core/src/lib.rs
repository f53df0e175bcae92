//! The domain of MyRunStreak: identifiers that parse, SmashRun activities read into runs, the
//! sync job and its state machine, the ports every outside system is reached through, and the
//! sync engine that drives a job. No AWS, HTTP or database code lives here.

pub mod activity;
pub mod auth;
pub mod clock;
#[cfg(any(test, feature = "contract"))]
pub mod contract;
pub mod error;
pub mod ids;
pub mod job;
pub mod login;
pub mod ports;
pub mod service;
pub mod settings;
pub mod sync;
pub mod tokens;

#[cfg(test)]
mod fakes;

pub use error::{BoxError, JobStoreError, QueueError, SmashrunError, StoreError};
pub use ids::{JobId, UserId};
