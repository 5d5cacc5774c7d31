//! Integration tests: every test starts its own real etcd on a free loopback port (killed
//! when the test ends) and runs the real `etcd-inventory` binary, the real
//! `ansible-inventory`, the stock `wasmtime` CLI, Node and Python against it. scripts/test.sh
//! installs those tools. Only etcd is needed by default: the tests that need another tool
//! come with the host crate's feature of that tool (`ansible`, `wasmtime-cli`, `node`,
//! `python`, and `wheel` for the released artifacts; all five: `external-tools`), which
//! scripts/test.sh turns on.

mod support;

#[cfg(feature = "ansible")]
mod ansible;
mod apply;
mod auth;
mod cache;
mod check;
mod cluster;
mod embed;
mod errors;
mod faults;
mod golden;
mod graph;
mod hardening;
mod host;
mod hostile;
mod import;
mod limits;
mod list;
mod migration;
#[cfg(feature = "ansible")]
mod modules;
#[cfg(feature = "node")]
mod node;
#[cfg(feature = "ansible")]
mod plugin;
#[cfg(feature = "python")]
mod python;
mod register;
mod sandbox;
mod settings;
mod snapshot;
mod tls;
mod transport;
mod values;
#[cfg(feature = "wasmtime-cli")]
mod wasmtime_cli;
#[cfg(feature = "wheel")]
mod wheel;
