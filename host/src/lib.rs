//! The native host of the etcd-inventory component: loads the precompiled component into
//! wasmtime in a sandbox, answers its `etcd` import over gRPC (or lets the composed
//! component reach only the configured endpoints' JSON gateway), and calls its typed
//! `inventory` export. The `etcd-inventory` binary is a thin shell around this.

pub mod apply;
pub mod args;
pub mod cache;
pub mod commands;
pub mod engine_config;
pub mod error;
pub mod grpc;
pub mod limits;
pub mod listing;
pub mod reader;
pub mod register;
pub mod sandbox;
pub mod say;
pub mod tls;
pub mod write_side;

pub use sandbox::{EgressPolicy, Sandbox};
