//! `apply`: one host or group made as a JSON request asks (what the collection's `host` and
//! `group` modules send), in one transaction guarded by the revisions its keys were read at.
//! The core plans ([`etcd_inventory::apply::plan`]); here etcd is read and written over
//! gRPC with the import's connection settings, and the answer said as JSON.

use etcd_inventory::apply::{self, LeaseInfo, Plan, Request};
use etcd_inventory::import::Existing;
use etcd_inventory::settings::Settings;
use serde_json::{Value, json};

use crate::grpc::GrpcClient;

/// Attempts at the guarded transaction, which someone else may be changing meanwhile (a
/// registrar of the host, an import, another play).
const TXN_ATTEMPTS: usize = 5;

/// What `apply` did, or with `--dry-run`, would do.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyReport {
    /// Whether etcd's keys changed (or would): renewing a kept lease changes none.
    pub changed: bool,
    pub before: Value,
    pub after: Value,
    /// The lease the host's keys are under afterwards; none in a dry run before a grant.
    pub lease: Option<i64>,
    /// Variables written as JSON text because they were not strings.
    pub non_strings: u64,
}

impl ApplyReport {
    fn of(plan: Plan, lease: Option<i64>) -> ApplyReport {
        ApplyReport {
            changed: plan.changes(),
            before: plan.before,
            after: plan.after,
            lease,
            non_strings: plan.non_strings,
        }
    }

    /// The one line `apply` prints: `{"changed", "before", "after", "lease"}`, the lease as
    /// hex, as `register` and `check` write lease ids.
    pub fn to_json(&self) -> String {
        let lease = self.lease.map(|id| format!("{id:x}"));
        let answer = json!({"changed": self.changed, "before": self.before, "after": self.after, "lease": lease});
        answer.to_string()
    }
}

/// Reads the keys the request concerns, plans, and (unless `dry_run`) writes the plan: a
/// lease granted first when the plan wants a new one (revoked again if the writes fail), a
/// kept lease renewed first. Planned again from a fresh read when a key changed meanwhile.
pub async fn apply(settings: &Settings, request: &Request, dry_run: bool) -> Result<ApplyReport, String> {
    let etcd = GrpcClient::connect(settings).await?;
    for _ in 0..TXN_ATTEMPTS {
        let (keys, tree_revision) = read(&etcd, settings, request).await?;
        let leases = match request {
            Request::Host(_) => lease_of(&etcd, &keys).await?,
            // A group's keys are never leased by a module; its members may be registered.
            Request::Group(_) => Vec::new(),
        };
        let mut plan = apply::plan(&settings.prefix, &settings.values, request, &keys, &leases)
            .map_err(|e| format!("cannot apply {}: {e}", request.describe()))?;
        if dry_run {
            let lease = match plan.lease {
                apply::Lease::Keep(id) => Some(id),
                apply::Lease::None | apply::Lease::New(_) => None,
            };
            return Ok(ApplyReport::of(plan, lease));
        }
        let (lease, granted) = match plan.lease {
            apply::Lease::None => (None, false),
            apply::Lease::Keep(id) => {
                if !etcd.keep_alive(id).await? {
                    // It expired since it was read, and the keys with it: plan again.
                    continue;
                }
                (Some(id), false)
            }
            apply::Lease::New(ttl) => {
                let (id, granted_ttl) = etcd.grant(ttl).await?;
                // etcd grants a little more than asked for very short leases.
                plan.after["ttl"] = json!(granted_ttl);
                (Some(id), true)
            }
        };
        if !plan.changes() {
            return Ok(ApplyReport::of(plan, lease));
        }
        let unchanged = plan.unchanged.as_ref().map(|range| (range, tree_revision));
        let written = etcd.apply_guarded(&plan.writes, lease, unchanged).await;
        if let (Some(id), true) = (lease, granted)
            && !matches!(written, Ok(true))
        {
            // Best effort: an unused lease would expire anyway.
            let _ = etcd.revoke(id).await;
        }
        if written? {
            return Ok(ApplyReport::of(plan, lease));
        }
    }
    Err(format!(
        "the keys of {} kept changing while applying ({TXN_ATTEMPTS} attempts): is a registrar or an import \
         writing them?",
        request.describe()
    ))
}

/// The keys `apply::plan` needs, and the revision the tree of groups was read at. A host:
/// its own keys. A group: its variables and members, and every children key (the tree,
/// which a new child must not turn into a loop).
async fn read(etcd: &GrpcClient, settings: &Settings, request: &Request) -> Result<(Vec<Existing>, i64), String> {
    let prefix = &settings.prefix;
    match request {
        Request::Host(host) => {
            etcd_inventory::import::check_name("host", &host.name)
                .map_err(|e| format!("cannot apply {}: {e}", request.describe()))?;
            Ok((etcd.own_keys(prefix, &host.name).await?, 0))
        }
        Request::Group(group) => {
            etcd_inventory::import::check_name("group", &group.name)
                .map_err(|e| format!("cannot apply {}: {e}", request.describe()))?;
            let tree = etcd.read(&prefix.children_range()).await?;
            let mut keys = tree.kvs;
            keys.extend(etcd.read(&prefix.group_vars_range(&group.name)).await?.kvs);
            keys.extend(etcd.read(&prefix.group_members_range(&group.name)).await?.kvs);
            Ok((keys, tree.revision))
        }
    }
}

/// The lease of a host's keys, when they share one that etcd still has, with the TTL it
/// was granted: the only lease the plan can keep.
async fn lease_of(etcd: &GrpcClient, keys: &[Existing]) -> Result<Vec<LeaseInfo>, String> {
    let Some(id) = apply::shared_lease(keys) else {
        return Ok(Vec::new());
    };
    Ok(match etcd.granted_ttl(id).await? {
        Some(granted_ttl) => vec![LeaseInfo { id, granted_ttl }],
        None => Vec::new(),
    })
}
