//! The native host of the etcd-inventory component: loads the precompiled component into
//! wasmtime with a sandbox that lets it reach only the configured etcd endpoints, and calls
//! its typed `inventory` export. The `etcd-inventory` binary is a thin shell around this.

pub mod args;
pub mod cache;
pub mod commands;
pub mod engine_config;
pub mod error;
pub mod grpc;
pub mod limits;
pub mod listing;
pub mod register;
pub mod sandbox;
pub mod say;
pub mod served;
pub mod tls;
pub mod write_side;

pub use sandbox::{EgressPolicy, Sandbox};
