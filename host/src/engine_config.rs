//! The one wasmtime configuration, shared by build.rs (which precompiles the component) and
//! the runtime (which loads it): precompiled code loads only into an engine whose settings
//! match the ones it was compiled with.

/// The engine settings for the etcd-inventory component.
pub fn config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    // Set explicitly, not left to cargo features, so build and run always agree.
    config.concurrency_support(false);
    // Running wasm checks the epoch, so the time limit can stop a busy component.
    config.epoch_interruption(true);
    config
}
