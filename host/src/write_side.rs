//! The `import` command: the core's pure import, with etcd read and written over gRPC
//! around it. (`check` runs in the sandbox, as `--list` does: see `Sandbox::check`.)

use std::io::IsTerminal as _;

use etcd_inventory::import::{self, ImportOptions, Plan};
use etcd_inventory::settings::Settings;
use indicatif::{ProgressBar, ProgressStyle};

use crate::grpc::GrpcClient;

/// The most request bytes per transaction: under etcd's default --max-request-bytes
/// (1.5 MiB), with room for framing.
const MAX_TXN_BYTES: usize = 1 << 20;
/// Transactions in flight at once: etcd commits concurrent ones together, one disk sync for
/// many, which is most of an import's speed.
const IN_FLIGHT: usize = 8;
/// From this many transactions on, an import on a terminal shows a progress bar.
const BAR_FROM_TXNS: usize = 10;

/// What `import` was asked.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// The inventory JSON, already read from the file or stdin.
    pub json: String,
    /// Where it came from, for messages.
    pub source: String,
    pub dry_run: bool,
    pub replace: bool,
    pub max_txn_ops: usize,
    /// Refuse names listed only as children instead of taking them as empty groups.
    pub strict: bool,
}

/// What an import did, or would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub created: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub deleted: u64,
    /// Leased keys (registered hosts') that differ from the file, left as they are.
    pub leased_kept: u64,
    /// Leased keys changed or deleted (`--replace`).
    pub leased_touched: u64,
    /// Variables written as JSON text because they were not strings.
    pub non_strings: u64,
    /// Groups named only as children, taken as empty groups.
    pub empty_groups: Vec<String>,
    pub dry_run: bool,
    pub prefix: String,
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ImportReport {
            created,
            changed,
            unchanged,
            deleted,
            ..
        } = self;
        let (verb, tail) = if self.dry_run {
            ("would be ", "; nothing written (--dry-run)")
        } else {
            ("", "")
        };
        write!(
            f,
            "{created} key(s) {verb}created, {changed} {verb}changed, {unchanged} unchanged, {deleted} {verb}deleted \
             under {}/",
            self.prefix
        )?;
        if self.leased_kept > 0 {
            write!(
                f,
                "; {} leased key(s) of registered hosts left as they are (--replace rewrites them)",
                self.leased_kept
            )?;
        }
        if self.leased_touched > 0 {
            write!(
                f,
                "; {} of the keys changed or deleted {} registered hosts' leased keys (changed ones no longer expire)",
                self.leased_touched,
                if self.dry_run { "would be" } else { "were" }
            )?;
        }
        f.write_str(tail)
    }
}

/// Imports script-convention JSON under the prefix. Nothing is written unless the whole
/// file is valid; then puts go first, deletes (`--replace`) last, in guarded transactions.
pub async fn import(settings: &Settings, request: ImportRequest) -> Result<ImportReport, String> {
    let options = ImportOptions {
        values: settings.values,
        strict: request.strict,
    };
    let encoded = import::encode(&settings.prefix, &request.json, options)
        .map_err(|e| format!("cannot import {}: {e}", request.source))?;
    // The file's text is no longer needed: tens of MiB for a large inventory.
    drop(request.json);
    let etcd = GrpcClient::connect(settings).await?;
    let existing = etcd.read(&settings.prefix.range()).await?;
    let wanted = import::keep_equivalent(
        &settings.prefix,
        &settings.values,
        encoded.pairs,
        &existing.kvs,
        request.replace,
    );
    let plan = import::plan(wanted, existing.kvs, request.replace);
    let report = ImportReport {
        created: plan.created,
        changed: plan.changed,
        unchanged: plan.unchanged,
        deleted: plan.deleted,
        leased_kept: plan.leased_kept,
        leased_touched: plan.leased_touched,
        non_strings: encoded.non_strings,
        empty_groups: encoded.empty_groups,
        dry_run: request.dry_run,
        prefix: settings.prefix.as_str().to_string(),
    };
    if !request.dry_run {
        write(&etcd, &plan, request.max_txn_ops).await?;
    }
    Ok(report)
}

/// Writes the plan: puts, then deletes, each phase in transactions with a few in flight.
async fn write(etcd: &GrpcClient, plan: &Plan, max_txn_ops: usize) -> Result<(), String> {
    let split = plan
        .writes
        .iter()
        .position(|w| matches!(w, import::Write::Delete { .. }))
        .unwrap_or(plan.writes.len());
    let (puts, deletes) = plan.writes.split_at(split);
    let batches: Vec<_> = [puts, deletes]
        .iter()
        .map(|phase| (*phase, import::batches(phase, max_txn_ops, MAX_TXN_BYTES)))
        .collect();
    let total: usize = batches.iter().map(|(_, b)| b.len()).sum();
    let bar = progress_bar(total, plan.writes.len());
    let mut written = 0;
    for (phase, ranges) in batches {
        let mut tasks = tokio::task::JoinSet::new();
        let mut next = ranges.into_iter();
        // Keep IN_FLIGHT transactions going until the phase's last has answered.
        loop {
            while tasks.len() < IN_FLIGHT
                && let Some(range) = next.next()
            {
                let etcd = etcd.clone();
                let writes = phase[range].to_vec();
                tasks.spawn(async move { (etcd.apply(&writes).await, writes.len()) });
            }
            let Some(joined) = tasks.join_next().await else { break };
            let (applied, count) = joined.map_err(|e| format!("an import task failed: {e}"))?;
            if !applied? {
                bar.abandon();
                return Err(format!(
                    "a key under the prefix changed while importing, so a transaction wrote nothing \
                     ({written} of {} writes done, none overwritten); run the import again",
                    plan.writes.len()
                ));
            }
            written += count;
            bar.inc(count as u64);
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// A bar on stderr when it is a terminal and the import is large; hidden otherwise.
fn progress_bar(transactions: usize, writes: usize) -> ProgressBar {
    if transactions < BAR_FROM_TXNS || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(writes as u64);
    let style = ProgressStyle::with_template("importing {bar:40} {pos}/{len} keys, {per_sec}, {eta} left")
        .expect("a valid template");
    bar.set_style(style);
    bar
}
