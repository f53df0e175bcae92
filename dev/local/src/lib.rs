//! The whole backend on one machine, against the local stack: moto for SQS, DynamoDB and
//! Secrets Manager, PostgREST over PostgreSQL, and the SmashRun sandbox. It provisions the AWS
//! resources the way Terraform does, serves the API router over HTTP, and runs the worker from
//! the queue the way Lambda's SQS event source mapping does.

pub mod bench;
pub mod bench_scheduler;
pub mod bench_startup;
pub mod bench_sync;
pub mod cli;
pub mod poller;
pub mod postgrest;
pub mod provision;
pub mod psql;
pub mod seed;
pub mod stack_env;
pub mod summaries;

pub use poller::{Poller, PollerSettings};
pub use provision::{ResourceNames, SecretValues, provision};
pub use seed::{SeededUser, seed_user, write_cli_config};
