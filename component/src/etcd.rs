//! Reading etcd, as the core sees it: the WIT `etcd` interface as a Rust trait, and the one
//! paged reader built on it. Which wire the pages travel (gRPC in the native host, the JSON
//! gateway in the gateway component, a script in unit tests) is the implementation's
//! business; the rules that make a read one consistent snapshot, and a cached inventory never
//! stale, are here.

use crate::error::Error;
use crate::inventory::Kv;
use crate::layout::KeyRange;

/// A pair as a page holds it: key, value, lease (0: none).
pub type PairRef<'p> = (&'p [u8], &'p [u8], i64);

/// One page of a consistent read, packed: the keys and values one after the other in one
/// buffer, so that a page crosses the component boundary in a few copies rather than two
/// allocations per pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The revision the whole read is pinned to.
    pub revision: i64,
    /// Key 1, value 1, key 2, value 2, ...: pairs in key order, continuing the previous page.
    pub bytes: Vec<u8>,
    /// Each key's length, in order.
    pub key_lengths: Vec<u32>,
    /// Each value's length, in order.
    pub value_lengths: Vec<u32>,
    /// Each pair's lease (0: none), in order.
    pub leases: Vec<i64>,
}

impl Page {
    /// An empty page of a read pinned to `revision`.
    pub fn new(revision: i64) -> Page {
        Page {
            revision,
            ..Page::default()
        }
    }

    /// Appends a pair.
    pub fn push(&mut self, key: &[u8], value: &[u8], lease: i64) {
        self.bytes.extend_from_slice(key);
        self.bytes.extend_from_slice(value);
        // etcd's keys and values are far below 4 GiB (1.5 MiB requests by default).
        self.key_lengths.push(u32::try_from(key.len()).unwrap_or(u32::MAX));
        self.value_lengths.push(u32::try_from(value.len()).unwrap_or(u32::MAX));
        self.leases.push(lease);
    }

    /// How many pairs.
    pub fn len(&self) -> usize {
        self.key_lengths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.key_lengths.is_empty()
    }

    /// The pairs as (key, value, lease); `None` when the lengths do not add up to the
    /// buffer (a broken implementation of the interface), rather than a panic.
    pub fn pairs(&self) -> Option<Vec<PairRef<'_>>> {
        let n = self.key_lengths.len();
        if self.value_lengths.len() != n || self.leases.len() != n {
            return None;
        }
        let mut pairs = Vec::with_capacity(n);
        let mut rest = self.bytes.as_slice();
        for i in 0..n {
            let (k, v) = (self.key_lengths[i] as usize, self.value_lengths[i] as usize);
            let end = k.checked_add(v).filter(|&end| end <= rest.len())?;
            pairs.push((&rest[..k], &rest[k..end], self.leases[i]));
            rest = &rest[end..];
        }
        rest.is_empty().then_some(pairs)
    }
}

/// A range looked at without reading a value (see [`unchanged_since`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeStamp {
    /// The revision this was read at.
    pub revision: i64,
    /// How many keys the range holds.
    pub count: u64,
    /// Whether a key in the range was written after the revision asked about.
    pub modified: bool,
}

/// One endpoint that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointFailure {
    pub endpoint: String,
    pub reason: String,
}

/// etcd's refusal of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub endpoint: String,
    /// The HTTP status, when the answer came through the JSON gateway.
    pub http_status: Option<u16>,
    /// The gRPC status code, when etcd gave one.
    pub code: Option<i32>,
    pub message: String,
}

/// Why a request to etcd failed: the WIT `etcd.error`, case by case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtcdError {
    /// No endpoint answered; one entry per endpoint, in order.
    Unreachable(Vec<EndpointFailure>),
    /// etcd refused the user name or password.
    AuthFailed { user: String, endpoint: String },
    /// etcd has authentication on, and no user was configured.
    AuthRequired { endpoint: String },
    /// etcd's RBAC does not let this user read the keys (a range start, such as the prefix
    /// with a final `/`).
    PermissionDenied { user: Option<String>, keys: String },
    /// The revision a read was pinned to was compacted away meanwhile.
    Compacted(Refusal),
    /// An answer is larger than etcd or the reader accepts, even at one key a page.
    TooLarge(Refusal),
    /// An endpoint's answer is not what etcd sends.
    Malformed(EndpointFailure),
    /// Any other refusal.
    Refused(Refusal),
}

impl EtcdError {
    /// etcd's refusal of a read of the keys from `start`, as the error a user can act on;
    /// `user` is who read (none: no credentials). The one rule both readers (gRPC in the
    /// host, the JSON gateway) apply.
    pub fn from_refusal(refusal: Refusal, user: Option<String>, start: &[u8]) -> EtcdError {
        match refusal.code {
            Some(code::PERMISSION_DENIED) => EtcdError::PermissionDenied {
                user,
                keys: String::from_utf8_lossy(start).into_owned(),
            },
            _ if user.is_none() && refusal.needs_authentication() => EtcdError::AuthRequired {
                endpoint: refusal.endpoint,
            },
            Some(code::OUT_OF_RANGE) => EtcdError::Compacted(refusal),
            Some(code::RESOURCE_EXHAUSTED) => EtcdError::TooLarge(refusal),
            _ => EtcdError::Refused(refusal),
        }
    }
}

impl Refusal {
    /// etcd without a token, when auth is on: Unauthenticated (HTTP 401 through the
    /// gateway), or (3.4) InvalidArgument with "user name is empty".
    pub fn needs_authentication(&self) -> bool {
        self.code == Some(code::UNAUTHENTICATED)
            || self.http_status == Some(401)
            || (self.code == Some(code::INVALID_ARGUMENT) && self.message.contains("user name is empty"))
    }
}

/// gRPC status codes the readers act on or explain.
pub mod code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const FAILED_PRECONDITION: i32 = 9;
    pub const OUT_OF_RANGE: i32 = 11;
    pub const UNAVAILABLE: i32 = 14;
    pub const UNAUTHENTICATED: i32 = 16;
}

/// `etcd_error_conversions!(from, to, path::to::binding)` defines `fn from(e: Error) ->
/// EtcdError` and `fn to(e: EtcdError) -> Error` for the module of a WIT binding of the
/// `etcd` interface. Each binding (the core's import, the gateway's export, the native
/// host's) has its own types of the same shape: this is their one conversion.
#[macro_export]
macro_rules! etcd_error_conversions {
    ($from:ident, $to:ident, $($wit:ident)::+) => {
        /// The WIT `etcd.error` as the core's [`EtcdError`].
        fn $from(e: $($wit)::+::Error) -> $crate::etcd::EtcdError {
            use $crate::etcd::{EndpointFailure, EtcdError, Refusal};
            use $($wit)::+ as wit;
            let failure = |f: wit::EndpointFailure| EndpointFailure {
                endpoint: f.endpoint,
                reason: f.reason,
            };
            let refusal = |r: wit::Refusal| Refusal {
                endpoint: r.endpoint,
                http_status: r.http_status,
                code: r.code,
                message: r.message,
            };
            match e {
                wit::Error::Unreachable(failures) => EtcdError::Unreachable(failures.into_iter().map(failure).collect()),
                wit::Error::AuthFailed(a) => EtcdError::AuthFailed {
                    user: a.user,
                    endpoint: a.endpoint,
                },
                wit::Error::AuthRequired(endpoint) => EtcdError::AuthRequired { endpoint },
                wit::Error::PermissionDenied(p) => EtcdError::PermissionDenied {
                    user: p.user,
                    keys: p.keys,
                },
                wit::Error::Compacted(r) => EtcdError::Compacted(refusal(r)),
                wit::Error::TooLarge(r) => EtcdError::TooLarge(refusal(r)),
                wit::Error::Malformed(f) => EtcdError::Malformed(failure(f)),
                wit::Error::Refused(r) => EtcdError::Refused(refusal(r)),
            }
        }

        /// The core's [`EtcdError`] as the WIT `etcd.error`.
        fn $to(e: $crate::etcd::EtcdError) -> $($wit)::+::Error {
            use $crate::etcd::{EndpointFailure, EtcdError, Refusal};
            use $($wit)::+ as wit;
            let failure = |f: EndpointFailure| wit::EndpointFailure {
                endpoint: f.endpoint,
                reason: f.reason,
            };
            let refusal = |r: Refusal| wit::Refusal {
                endpoint: r.endpoint,
                http_status: r.http_status,
                code: r.code,
                message: r.message,
            };
            match e {
                EtcdError::Unreachable(failures) => wit::Error::Unreachable(failures.into_iter().map(failure).collect()),
                EtcdError::AuthFailed { user, endpoint } => wit::Error::AuthFailed(wit::AuthFailure { user, endpoint }),
                EtcdError::AuthRequired { endpoint } => wit::Error::AuthRequired(endpoint),
                EtcdError::PermissionDenied { user, keys } => {
                    wit::Error::PermissionDenied(wit::PermissionDenied { user, keys })
                }
                EtcdError::Compacted(r) => wit::Error::Compacted(refusal(r)),
                EtcdError::TooLarge(r) => wit::Error::TooLarge(refusal(r)),
                EtcdError::Malformed(f) => wit::Error::Malformed(failure(f)),
                EtcdError::Refused(r) => wit::Error::Refused(refusal(r)),
            }
        }
    };
}

/// etcd, as the core reads it. One read is under way at a time: [`Etcd::read`] starts one
/// (dropping any other), [`Etcd::next_page`] continues it.
pub trait Etcd {
    /// Starts a consistent read of `range` in pages of at most `page_size` keys.
    fn read(&mut self, range: &KeyRange, page_size: u32) -> Result<(), EtcdError>;
    /// The next page of the read under way; `None` after the last.
    fn next_page(&mut self) -> Result<Option<Page>, EtcdError>;
    /// The cluster's current revision, from a lookup of `key` (one the user may read) that
    /// reads no value.
    fn current_revision(&mut self, key: &[u8]) -> Result<i64, EtcdError>;
    /// How many keys `range` holds, and whether one was written after `after`.
    fn stamp(&mut self, range: &KeyRange, after: i64) -> Result<RangeStamp, EtcdError>;
    /// Seconds `lease` has left (negative: expired); `None` when etcd would not say.
    fn lease_ttl(&mut self, lease: i64) -> Result<Option<i64>, EtcdError>;
}

/// Takes a read's pairs page by page as they arrive, so that a large range is never held
/// whole.
pub trait Sink {
    /// One pair; pairs come in key order.
    fn pair(&mut self, key: &[u8], value: Vec<u8>) -> Result<(), Error>;
    /// One pair and the lease it is attached to (0: none). Only `check` wants leases.
    fn leased_pair(&mut self, key: &[u8], value: Vec<u8>, _lease: i64) -> Result<(), Error> {
        self.pair(key, value)
    }
    /// The read starts again from the first key at a newer revision (the one it was pinned
    /// to was compacted away): forget every pair so far.
    fn restart(&mut self);
}

impl Sink for Vec<Kv> {
    fn pair(&mut self, key: &[u8], value: Vec<u8>) -> Result<(), Error> {
        self.push(Kv {
            key: key.to_vec(),
            value,
        });
        Ok(())
    }

    fn restart(&mut self) {
        self.clear();
    }
}

impl Sink for crate::inventory::Builder<'_> {
    fn pair(&mut self, key: &[u8], value: Vec<u8>) -> Result<(), Error> {
        Ok(self.add(key, value)?)
    }

    fn restart(&mut self) {
        *self = crate::inventory::Builder::new(self.prefix(), self.rules());
    }
}

/// What a read saw: the revision it was pinned to and how many keys it passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    pub revision: i64,
    pub keys: u64,
}

/// Reads every key in `range` into `sink`, page by page, in one snapshot. When the pinned
/// revision is compacted away between two pages, the read starts again once at the current
/// revision; a second compaction during one run means something compacts aggressively, and
/// is reported rather than looped on.
pub fn read_into(etcd: &mut dyn Etcd, range: &KeyRange, page_size: u32, sink: &mut dyn Sink) -> Result<Read, Error> {
    match read_once(etcd, range, page_size, sink) {
        Err(Error::Etcd(EtcdError::Compacted(_))) => {
            sink.restart();
            read_once(etcd, range, page_size, sink)
        }
        other => other,
    }
}

fn read_once(etcd: &mut dyn Etcd, range: &KeyRange, page_size: u32, sink: &mut dyn Sink) -> Result<Read, Error> {
    etcd.read(range, page_size)?;
    let mut read = Read { revision: 0, keys: 0 };
    // Bounded: an implementation ends its read when etcd has no more keys, and every page
    // but the last holds at least one (each implementation checks what etcd tells it).
    while let Some(page) = etcd.next_page()? {
        let pairs = page.pairs().ok_or_else(|| {
            EtcdError::Malformed(EndpointFailure {
                endpoint: "the etcd interface".to_string(),
                reason: "a page's lengths do not add up to its bytes".to_string(),
            })
        })?;
        read.revision = page.revision;
        read.keys += pairs.len() as u64;
        for (key, value, lease) in pairs {
            sink.leased_pair(key, value.to_vec(), lease)?;
        }
    }
    Ok(read)
}

/// Every pair in `range`, and the revision they were read at.
pub fn read_all(etcd: &mut dyn Etcd, range: &KeyRange, page_size: u32) -> Result<(Read, Vec<Kv>), Error> {
    let mut kvs = Vec::new();
    let read = read_into(etcd, range, page_size, &mut kvs)?;
    Ok((read, kvs))
}

/// Whether `range` still holds exactly what it held at `revision`, when it had `count`
/// keys, asked without transferring a single value: what a cache needs to be never stale.
/// `Some(r)`: unchanged as of revision `r` (at least `revision`), which a cache may keep as
/// its new stamp, so the next check can again be the one cheap lookup. `None`: changed.
///
/// Why this is exact: a put sets the key's mod_revision to the put's revision, so a key put
/// after `revision` (new, changed, or deleted and put again) has a mod_revision above it for
/// as long as it exists. If no key in the range has one, every key there now was last
/// written at or before `revision`, with the value it had then: the range now is a subset
/// of the range then. A subset with as many keys is the same set. So "no key modified
/// since, and the same count" means unchanged, and any put or delete breaks one of the two.
/// If the cluster's revision is still `revision`, nothing was written anywhere: one cheap
/// lookup answers.
pub fn unchanged_since(
    etcd: &mut dyn Etcd,
    range: &KeyRange,
    revision: i64,
    count: u64,
) -> Result<Option<i64>, EtcdError> {
    if etcd.current_revision(&range.start)? == revision {
        return Ok(Some(revision));
    }
    let now = etcd.stamp(range, revision)?;
    let unchanged = !now.modified && now.count == count;
    Ok(unchanged.then_some(now.revision.max(revision)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// Pages and stamps, scripted: the reader's rules only; the implementations' own tests
    /// and the integration tests cover the wires.
    #[derive(Default)]
    struct Scripted {
        pages: VecDeque<Result<Option<Page>, EtcdError>>,
        reads: usize,
        revision: i64,
        stamp: Option<RangeStamp>,
    }

    impl Etcd for Scripted {
        fn read(&mut self, _range: &KeyRange, _page_size: u32) -> Result<(), EtcdError> {
            self.reads += 1;
            Ok(())
        }
        fn next_page(&mut self) -> Result<Option<Page>, EtcdError> {
            self.pages.pop_front().expect("no more scripted pages")
        }
        fn current_revision(&mut self, _key: &[u8]) -> Result<i64, EtcdError> {
            Ok(self.revision)
        }
        fn stamp(&mut self, _range: &KeyRange, _after: i64) -> Result<RangeStamp, EtcdError> {
            Ok(self.stamp.expect("a scripted stamp"))
        }
        fn lease_ttl(&mut self, _lease: i64) -> Result<Option<i64>, EtcdError> {
            Ok(None)
        }
    }

    fn page(revision: i64, keys: &[&str]) -> Result<Option<Page>, EtcdError> {
        let mut page = Page::new(revision);
        for k in keys {
            page.push(k.as_bytes(), b"v", 0);
        }
        Ok(Some(page))
    }

    fn compacted() -> Result<Option<Page>, EtcdError> {
        Err(EtcdError::Compacted(Refusal {
            endpoint: "e".into(),
            http_status: None,
            code: Some(code::OUT_OF_RANGE),
            message: "etcdserver: mvcc: required revision has been compacted".into(),
        }))
    }

    fn range() -> KeyRange {
        KeyRange::with_prefix(b"/p/".to_vec())
    }

    #[test]
    fn pages_go_into_the_sink_in_order_with_the_pinned_revision() {
        let mut etcd = Scripted {
            pages: [page(7, &["/p/a", "/p/b"]), page(7, &["/p/c"]), Ok(None)].into(),
            ..Scripted::default()
        };
        let (read, kvs) = read_all(&mut etcd, &range(), 2).unwrap();
        assert_eq!(read, Read { revision: 7, keys: 3 });
        let keys: Vec<&[u8]> = kvs.iter().map(|kv| kv.key.as_slice()).collect();
        assert_eq!(keys, [b"/p/a".as_slice(), b"/p/b", b"/p/c"]);
    }

    #[test]
    fn a_compaction_between_pages_restarts_the_read_once_from_nothing() {
        let mut etcd = Scripted {
            pages: [page(7, &["/p/a"]), compacted(), page(9, &["/p/a", "/p/b"]), Ok(None)].into(),
            ..Scripted::default()
        };
        let (read, kvs) = read_all(&mut etcd, &range(), 2).unwrap();
        assert_eq!(etcd.reads, 2);
        assert_eq!(read, Read { revision: 9, keys: 2 });
        assert_eq!(kvs.len(), 2, "the first attempt's pairs were forgotten");
    }

    #[test]
    fn a_page_whose_lengths_do_not_add_up_is_malformed_not_a_panic() {
        let mut broken = Page::new(7);
        broken.push(b"/p/a", b"v", 0);
        broken.bytes.pop();
        assert_eq!(broken.pairs(), None);
        let mut etcd = Scripted {
            pages: [Ok(Some(broken))].into(),
            ..Scripted::default()
        };
        let err = read_all(&mut etcd, &range(), 2).unwrap_err();
        assert!(matches!(err, Error::Etcd(EtcdError::Malformed(_))), "{err:?}");
    }

    #[test]
    fn a_second_compaction_is_the_error() {
        let mut etcd = Scripted {
            pages: [compacted(), compacted()].into(),
            ..Scripted::default()
        };
        let err = read_all(&mut etcd, &range(), 2).unwrap_err();
        assert!(matches!(err, Error::Etcd(EtcdError::Compacted(_))), "{err:?}");
        assert_eq!(etcd.reads, 2);
    }

    #[test]
    fn an_idle_cluster_is_unchanged_after_one_lookup() {
        let mut etcd = Scripted {
            revision: 5,
            ..Scripted::default()
        };
        assert_eq!(unchanged_since(&mut etcd, &range(), 5, 3).unwrap(), Some(5));
    }

    #[test]
    fn writes_elsewhere_leave_the_range_unchanged_as_of_the_later_revision() {
        let stamp = |count, modified| RangeStamp {
            revision: 9,
            count,
            modified,
        };
        let mut etcd = Scripted {
            revision: 9,
            stamp: Some(stamp(3, false)),
            ..Scripted::default()
        };
        assert_eq!(unchanged_since(&mut etcd, &range(), 5, 3).unwrap(), Some(9));
        etcd.stamp = Some(stamp(3, true));
        assert_eq!(
            unchanged_since(&mut etcd, &range(), 5, 3).unwrap(),
            None,
            "a key was put"
        );
        etcd.stamp = Some(stamp(2, false));
        assert_eq!(
            unchanged_since(&mut etcd, &range(), 5, 3).unwrap(),
            None,
            "a key was deleted"
        );
    }
}
