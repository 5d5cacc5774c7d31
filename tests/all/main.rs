//! Integration tests: every test starts its own real etcd on a free loopback port (killed
//! when the test ends) and runs the real `etcd-inventory` binary, the real
//! `ansible-inventory` and the stock `wasmtime` CLI against it. scripts/test.sh installs
//! those tools.

mod support;

mod ansible;
mod auth;
mod cache;
mod check;
mod cluster;
mod embed;
mod errors;
mod faults;
mod graph;
mod hardening;
mod host;
mod hostile;
mod import;
mod limits;
mod list;
mod migration;
mod node;
mod register;
mod sandbox;
mod settings;
mod snapshot;
mod tls;
mod transport;
mod values;
mod wasmtime_cli;
