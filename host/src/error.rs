//! The binary's one error type. Each way a command can fail is a case, carrying what it
//! came from (the core's [`Error`], a [`LimitHit`], a trap, an I/O error and what was being
//! done); `main` renders it once, as one line.

use etcd_inventory::error::Error;

use crate::limits::LimitHit;

/// Why a command failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure {
    /// Flags, environment or etcd.ini hold a setting that cannot be used.
    Settings(Error),
    /// The inventory core's answer: etcd could not be read, or the keys make no inventory.
    Core(Error),
    /// The component ran into a limit of its sandbox.
    Limit(LimitHit),
    /// The component trapped (or its call failed) for another reason.
    Trap(wasmtime::Error),
    /// The precompiled component could not be loaded.
    Load(wasmtime::Error),
    /// The host's connections to etcd could not be set up (TLS files, the gRPC channel).
    Connection(String),
    /// `import`, `register`, `deregister` or `apply` failed; those modules say why in words.
    Command(String),
    /// Reading or writing a file or stream, or starting something of the host's.
    Io {
        /// What was being done, completing "cannot ...".
        doing: String,
        source: std::io::Error,
    },
}

impl Failure {
    /// A failed call into the component: a limit it hit (found by downcasting, never by
    /// the error's text), else a trap.
    pub fn from_call(error: wasmtime::Error) -> Failure {
        match LimitHit::of(&error) {
            Some(limit) => Failure::Limit(limit),
            None => Failure::Trap(error),
        }
    }

    /// An I/O error while doing `doing` ("read the cache").
    pub fn io(doing: impl Into<String>) -> impl FnOnce(std::io::Error) -> Failure {
        let doing = doing.into();
        move |source| Failure::Io { doing, source }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Settings(e) | Failure::Core(e) => write!(f, "{e}"),
            Failure::Limit(limit) => write!(f, "{limit}"),
            Failure::Trap(trap) => write!(f, "the component failed: {}", one_line(trap)),
            Failure::Load(e) => write!(f, "cannot load the component: {}", one_line(e)),
            Failure::Connection(text) | Failure::Command(text) => f.write_str(text),
            Failure::Io { doing, source } => write!(f, "cannot {doing}: {source}"),
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Failure::Settings(e) | Failure::Core(e) => Some(e),
            Failure::Limit(limit) => Some(limit),
            Failure::Io { source, .. } => Some(source),
            Failure::Trap(e) | Failure::Load(e) => Some(e.as_ref()),
            Failure::Connection(_) | Failure::Command(_) => None,
        }
    }
}

/// A wasmtime error's chain on one line, without the guest backtrace a trap carries: the
/// user gets one line, as for every other error, that still says why (`wasm trap: call
/// stack exhausted`).
pub fn one_line(error: &wasmtime::Error) -> String {
    let causes = error.chain().map(|cause| cause.to_string());
    let causes: Vec<String> = causes
        .map(|text| {
            text.lines()
                .next()
                .unwrap_or_default()
                .trim_end_matches(':')
                .to_string()
        })
        .filter(|text| !text.is_empty() && text != "error while executing at wasm backtrace")
        .collect();
    causes.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_is_found_by_its_type_whatever_the_text_around_it() {
        let hit = LimitHit::Memory { limit_mib: 64 };
        let wrapped = wasmtime::Error::new(hit).context("while calling list-inventory");
        assert!(matches!(Failure::from_call(wrapped), Failure::Limit(l) if l == hit));
        let looks_like_one = wasmtime::Error::msg(hit.to_string());
        let failure = Failure::from_call(looks_like_one);
        assert!(matches!(failure, Failure::Trap(_)), "{failure:?}");
        assert!(failure.to_string().starts_with("the component failed: "), "{failure}");
    }

    #[test]
    fn io_failures_say_what_was_being_done() {
        let failure = Failure::io("read the cache")(std::io::Error::other("disk on fire"));
        assert_eq!(failure.to_string(), "cannot read the cache: disk on fire");
    }
}
