//! What the workspace's tests, examples and tools share, so that no package
//! includes another's files by path:
//!
//! - [`redis_server`]: real `redis-server` processes (single, persistent,
//!   a three-master cluster) on free loopback ports;
//! - [`postgres_server`]: real PostgreSQL servers, each in a data folder
//!   of its own, that can be stalled and crashed;
//! - [`s3_server`]: a real S3-compatible server (`moto_server`);
//! - [`azurite_server`]: Azurite, the Azure Blob Storage emulator;
//! - [`softhsm`]: a throwaway SoftHSM2 token with keys imported into it;
//! - [`cli`]: the examples' and tools' command-line convention, kept by a
//!   program and checked from outside.
//!
//! Helpers for tests: they panic, naming what failed, instead of returning
//! errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

pub mod azurite_server;
pub mod cli;
pub mod postgres_server;
pub mod redis_server;
pub mod s3_server;
pub mod softhsm;
