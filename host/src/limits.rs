//! The component's bounds, so that no data (and no component) can exhaust or hang the
//! machine Ansible runs on: a memory limit on its linear memory, and a time limit on the
//! whole command. Running wasm reaches a yield point at every epoch tick, so the deadline
//! ends a busy loop as surely as a wait on etcd.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use etcd_inventory::settings::{MEMORY_LIMIT, SandboxLimits, TIME_LIMIT};
use wasmtime::{Engine, ResourceLimiter, Store, UpdateDeadline};

/// How often running wasm stops to look at the clock (and lets timers run).
const TICK: Duration = Duration::from_millis(20);

/// Most table elements; the component declares a few hundred.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// A limit the component ran into: the one line the user sees says which, and how to
/// raise it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitHit {
    Memory { limit_mib: u32 },
    Time { limit_ms: u32 },
}

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitHit::Memory { limit_mib } => write!(
                f,
                "the component needed more memory than its limit of {limit_mib} MiB: raise it with \
                 --memory-limit MIB ({}, or memory_limit in etcd.ini)",
                MEMORY_LIMIT.var()
            ),
            LimitHit::Time { limit_ms } => write!(
                f,
                "the component did not finish within its time limit of {}: raise it with --time-limit \
                 DURATION ({}, or time_limit in etcd.ini)",
                seconds(*limit_ms),
                TIME_LIMIT.var()
            ),
        }
    }
}

impl std::error::Error for LimitHit {}

fn seconds(ms: u32) -> String {
    match ms % 1000 {
        0 => format!("{} s", ms / 1000),
        _ => format!("{} ms", ms),
    }
}

impl LimitHit {
    /// The limit behind a failed call, if a limit was the cause.
    pub fn of(error: &wasmtime::Error) -> Option<LimitHit> {
        error.downcast_ref::<LimitHit>().copied()
    }
}

/// The memory limit of one store.
#[derive(Debug)]
pub struct MemoryLimit {
    limit_mib: u32,
}

impl MemoryLimit {
    pub fn new(limits: &SandboxLimits) -> MemoryLimit {
        MemoryLimit {
            limit_mib: limits.memory_mib,
        }
    }

    fn bytes(&self) -> usize {
        (self.limit_mib as usize) << 20
    }
}

impl ResourceLimiter for MemoryLimit {
    /// Refuses by trapping, not by failing `memory.grow`: the component would then abort
    /// on the failed allocation, and the user would read "unreachable executed".
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.bytes() {
            return Err(LimitHit::Memory {
                limit_mib: self.limit_mib,
            }
            .into());
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// The time limit of one command, from when it starts.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    limit_ms: u32,
}

impl Deadline {
    pub fn starting_now(limits: &SandboxLimits) -> Deadline {
        Deadline {
            at: Instant::now() + Duration::from_millis(u64::from(limits.time_limit_ms)),
            limit_ms: limits.time_limit_ms,
        }
    }

    fn hit(&self) -> LimitHit {
        LimitHit::Time {
            limit_ms: self.limit_ms,
        }
    }

    /// Makes running wasm in `store` check the deadline at every tick: past it, the call
    /// traps; before it, the call yields, so that timers (and [`Deadline::bound`]) run.
    pub fn arm<T>(&self, store: &mut Store<T>) {
        let deadline = *self;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| match Instant::now() >= deadline.at {
            true => Err(deadline.hit().into()),
            false => Ok(UpdateDeadline::Yield(1)),
        });
    }

    /// `call`, or the time limit's error once the deadline passes, even while the
    /// component waits for the host (an etcd read).
    pub async fn bound<R>(&self, call: impl Future<Output = wasmtime::Result<R>>) -> wasmtime::Result<R> {
        match tokio::time::timeout_at(self.at.into(), call).await {
            Ok(result) => result,
            Err(_elapsed) => Err(self.hit().into()),
        }
    }
}

/// Advances `engine`'s epoch every [`TICK`] until dropped.
pub struct EpochTicker {
    stopped: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: &Engine) -> EpochTicker {
        let stopped = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = {
            let (engine, stopped) = (engine.clone(), stopped.clone());
            std::thread::spawn(move || {
                let (lock, wake) = &*stopped;
                let mut done = lock.lock().unwrap_or_else(|e| e.into_inner());
                // Ends when the ticker is dropped (it sets `done` and wakes this thread).
                while !*done {
                    done = wake.wait_timeout(done, TICK).unwrap_or_else(|e| e.into_inner()).0;
                    engine.increment_epoch();
                }
            })
        };
        EpochTicker {
            stopped,
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stopped;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for EpochTicker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochTicker").finish_non_exhaustive()
    }
}
