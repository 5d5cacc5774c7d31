//! `--list`, `--host` and `--graph`: the component reads etcd in its sandbox, and the
//! `--list` cache policy decides whether it needs to (served within `max_age`, else after
//! etcd confirms it unchanged, else read in full and rewritten; the stale fallback when no
//! endpoint answers). `--graph` is drawn from the list, cached or not.

use etcd_inventory::Answer;
use etcd_inventory::cli::Mode;
use etcd_inventory::error::Error;
use etcd_inventory::graph;
use etcd_inventory::inventory::Warnings;
use etcd_inventory::settings::Settings;

use crate::cache::{Body, Cache, CachedInventory, Trouble};
use crate::error::Failure;
use crate::{EgressPolicy, Sandbox};

/// An inventory to print: text, or a cached inventory still in its file (it can be tens of
/// MiB: moved to stdout, not copied into memory).
#[derive(Debug)]
pub enum Listing {
    Text(String),
    Cached(Body),
}

/// How a warning reaches the user (the binary redacts the password from it first).
pub type Warn<'a> = &'a dyn Fn(&str);

/// `--list`, `--host` and `--graph`: the component reads etcd in its sandbox.
pub fn read_inventory(
    runtime: &tokio::runtime::Runtime,
    settings: &Settings,
    mode: &Mode,
    warn: Warn,
) -> Result<Listing, Failure> {
    let egress = EgressPolicy::for_settings(settings).map_err(Failure::Connection)?;
    let sandbox = Sandbox::new(&settings.limits, settings.transport).map_err(Failure::Load)?;
    let call = Call {
        runtime,
        sandbox: &sandbox,
        settings,
        egress: &egress,
        warn,
    };
    // `--graph` is drawn from the list (the sandbox reads the list for it), cached or not.
    let listing = match mode {
        Mode::List | Mode::Graph(_) if settings.cache.enabled => call.list_cached()?,
        _ => {
            let answer = call.answer(mode)?;
            call.warn_all(&answer.warnings);
            Listing::Text(answer.json)
        }
    };
    let Mode::Graph(root) = mode else {
        return Ok(listing);
    };
    let json = match listing {
        Listing::Text(json) => json,
        Listing::Cached(body) => body.read_to_string().map_err(Failure::io("read the cache"))?,
    };
    graph::render(&json, root).map(Listing::Text).map_err(Failure::Core)
}

/// What every call into the component needs.
struct Call<'a> {
    runtime: &'a tokio::runtime::Runtime,
    sandbox: &'a Sandbox,
    settings: &'a Settings,
    egress: &'a EgressPolicy,
    warn: Warn<'a>,
}

impl Call<'_> {
    fn answer(&self, mode: &Mode) -> Result<Answer, Failure> {
        self.read(mode)?.map_err(Failure::Core)
    }

    /// The component's answer; the outer `Err` is a failed call (a trap or a limit).
    fn read(&self, mode: &Mode) -> Result<Result<Answer, Error>, Failure> {
        self.runtime
            .block_on(self.sandbox.run(mode, self.settings, self.egress))
            .map_err(Failure::from_call)
    }

    /// `--list` through the cache: served within `max_age`, else after etcd confirms it
    /// is unchanged, else read in full and rewritten. Cache trouble is a warning, never a
    /// failure; etcd's errors stay errors unless the stale fallback was asked for.
    fn list_cached(&self) -> Result<Listing, Failure> {
        let options = &self.settings.cache;
        let cache = Cache::new(self.settings);
        let entry = match cache.load() {
            Ok(entry) => entry,
            Err(Trouble::Unusable(warning)) => {
                (self.warn)(&warning);
                None
            }
            // Written by someone else, perhaps: read etcd, and write nothing there.
            Err(Trouble::Unsafe(warning)) => {
                (self.warn)(&warning);
                let answer = self.answer(&Mode::List)?;
                self.warn_all(&answer.warnings);
                return Ok(Listing::Text(answer.json));
            }
        };
        if let Some(cached) = entry.as_ref().filter(|_| !options.refresh) {
            let unchanged = if cached.age_s() < options.max_age_s {
                // The classic behaviour: young enough to serve without asking etcd.
                Ok(Some(cached.revision))
            } else {
                self.runtime
                    .block_on(
                        self.sandbox
                            .unchanged(self.settings, self.egress, cached.revision, cached.key_count),
                    )
                    .map_err(Failure::from_call)?
            };
            match unchanged {
                Ok(Some(revision)) => {
                    // Confirmed as of a later revision: the next check can start from it.
                    if revision > cached.revision
                        && let Err(warning) = cache.stamp(cached, revision)
                    {
                        (self.warn)(&warning);
                    }
                    return Ok(self.serve(entry.expect("checked above")));
                }
                Ok(None) => {}
                Err(e) => return self.stale_or(entry.expect("checked above"), e),
            }
        }
        let answer = match self.read(&Mode::List)? {
            Ok(answer) => answer,
            Err(e) => {
                return match entry {
                    Some(entry) => self.stale_or(entry, e),
                    None => Err(Failure::Core(e)),
                };
            }
        };
        if let Err(warning) = cache.store(&answer) {
            (self.warn)(&warning);
        }
        self.warn_all(&answer.warnings);
        Ok(Listing::Text(answer.json))
    }

    /// With the stale fallback on and no endpoint answering, the cached inventory, with a
    /// warning saying how old it is; otherwise the error.
    fn stale_or(&self, entry: CachedInventory, error: Error) -> Result<Listing, Failure> {
        if !(self.settings.cache.stale_fallback
            && matches!(error, Error::Etcd(etcd_inventory::etcd::EtcdError::Unreachable(_))))
        {
            return Err(Failure::Core(error));
        }
        (self.warn)(&format!(
            "serving the cached inventory read {} s ago at revision {} (stale fallback): {error}",
            entry.age_s(),
            entry.revision
        ));
        Ok(self.serve(entry))
    }

    /// The cached inventory, with the warning its read gave; moved, not copied (it can be
    /// tens of MiB).
    fn serve(&self, entry: CachedInventory) -> Listing {
        self.warn_all(&entry.warnings);
        Listing::Cached(entry.body)
    }

    fn warn_all(&self, warnings: &Warnings) {
        warn_all(self.settings, warnings, self.warn);
    }
}

/// One warning line for each kind of key the read skipped or found suspicious.
pub fn warn_all(settings: &Settings, warnings: &Warnings, warn: Warn) {
    for line in warnings.lines(&settings.prefix) {
        warn(&line);
    }
}
