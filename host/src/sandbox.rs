//! Runs the component: no filesystem, no environment, no sockets. Under `--transport grpc`
//! the inventory core runs alone and this host answers its `etcd` import over gRPC
//! ([`Reader`]); under `--transport gateway` the composed component runs, reaching etcd's
//! JSON gateway through `wasi:http`, only at the endpoints of an [`EgressPolicy`]. Answers
//! come back as the core's types, so errors are rendered by the core's one `Display`.

use std::future::Future;
use std::sync::Arc;

use etcd_inventory::check::LeasedHost;
use etcd_inventory::error::Error;
use etcd_inventory::inventory::{Tally, Warnings};
use etcd_inventory::layout::KeyRange;
use etcd_inventory::settings::{Endpoint, SandboxLimits, Settings, TlsFiles, Transport};
use etcd_inventory::{Answer, cli::Mode};
use tokio::sync::Mutex;
use wasmtime::component::{Component, HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::limits::{Deadline, EpochTicker, MemoryLimit};
use crate::reader::{PagedRead, Reader};
use crate::tls::HttpsClient;

mod bindings {
    // The core's world: its exports are the composed component's too, so these bindings
    // call either.
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "etcd-inventory:inventory/core",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "wasi": wasmtime_wasi::p2::bindings,
            "etcd-inventory:inventory/etcd.client": super::EtcdClient,
            "etcd-inventory:inventory/etcd.range-read": crate::reader::PagedRead,
        },
    });
}

use bindings::etcd_inventory::inventory::etcd as wit_etcd;
use bindings::exports::etcd_inventory::inventory::inventory as wit;

/// The inventory core, compiled ahead of time by build.rs for this binary's target: run
/// under `--transport grpc`, with this host's `etcd`.
static CORE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/core.cwasm"));
/// The composed component (the core and the gateway component), compiled likewise: run
/// under `--transport gateway`.
static COMPOSED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/etcd_inventory.cwasm"));

/// The portable component `COMPOSED` was compiled from, for other hosts (stock wasmtime,
/// jco, another program): the same `.wasm` that the build leaves in `target/component/`.
pub static COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/etcd_inventory.wasm"));

/// The host side of the `etcd` interface's `client`: the store's [`Reader`] does the work.
#[derive(Debug)]
pub struct EtcdClient;

/// The loaded component, ready to be instantiated once per call, within the limits of
/// one command: every call shares its deadline.
pub struct Sandbox {
    engine: Engine,
    pre: bindings::CorePre<State>,
    limits: SandboxLimits,
    deadline: Deadline,
    _ticker: EpochTicker,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Loads the embedded precompiled component for `transport` and links WASI and this
    /// host's `etcd` (gRPC) or `wasi:http` (gateway) for it; the time limit starts now.
    pub fn new(limits: &SandboxLimits, transport: Transport) -> wasmtime::Result<Sandbox> {
        let engine = Engine::new(&crate::engine_config::config())?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        let precompiled = match transport {
            Transport::Grpc => {
                wit_etcd::add_to_linker::<State, HasSelf<State>>(&mut linker, |state| state)?;
                CORE
            }
            Transport::Gateway => {
                wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
                COMPOSED
            }
        };
        // SAFETY: the bytes are the output of `Engine::precompile_component` from build.rs,
        // embedded in this binary at compile time, with the same engine configuration.
        let component = unsafe { Component::deserialize(&engine, precompiled)? };
        let pre = bindings::CorePre::new(linker.instantiate_pre(&component)?)?;
        Ok(Sandbox {
            _ticker: EpochTicker::start(&engine),
            engine,
            pre,
            limits: *limits,
            deadline: Deadline::starting_now(limits),
        })
    }

    /// Answers `--list` or `--host NAME` by calling the component's typed export. The outer
    /// `Err` is a failure of the sandbox itself (a trap); the inner one the component's.
    pub async fn run(
        &self,
        mode: &Mode,
        settings: &Settings,
        egress: &EgressPolicy,
    ) -> wasmtime::Result<Result<Answer, Error>> {
        let options = to_options(settings);
        let result = self
            .deadline
            .bound(async {
                let (mut store, instance) = self.instantiate(egress).await?;
                let api = instance.etcd_inventory_inventory_inventory();
                match mode {
                    // The tree is drawn from the list by the shell, as the component's run() does.
                    Mode::List | Mode::Graph(_) => api.call_list_inventory(&mut store, &options).await,
                    Mode::Host(host) => api.call_host_vars(&mut store, &options, host).await,
                }
            })
            .await?;
        Ok(result.map(from_output).map_err(from_error))
    }

    /// Whether the prefix still holds what a `--list` answer read at `revision` in
    /// `key_count` keys (the component's `inventory-unchanged`): `Some(r)`, unchanged as
    /// of revision `r`.
    pub async fn unchanged(
        &self,
        settings: &Settings,
        egress: &EgressPolicy,
        revision: i64,
        key_count: u64,
    ) -> wasmtime::Result<Result<Option<i64>, Error>> {
        let options = to_options(settings);
        let result = self
            .deadline
            .bound(async {
                let (mut store, instance) = self.instantiate(egress).await?;
                let api = instance.etcd_inventory_inventory_inventory();
                api.call_inventory_unchanged(&mut store, &options, revision, key_count)
                    .await
            })
            .await?;
        Ok(result.map_err(from_error))
    }

    /// `check`: what the component's `check-inventory` found, in the same sandbox and
    /// limits as `--list`.
    pub async fn check(
        &self,
        settings: &Settings,
        egress: &EgressPolicy,
    ) -> wasmtime::Result<Result<CheckReport, Error>> {
        let options = to_options(settings);
        let result = self
            .deadline
            .bound(async {
                let (mut store, instance) = self.instantiate(egress).await?;
                let api = instance.etcd_inventory_inventory_inventory();
                api.call_check_inventory(&mut store, &options).await
            })
            .await?;
        let report = |r: wit::CheckReport| CheckReport {
            findings: r.findings.into_iter().map(|f| (f.error, f.text)).collect(),
            revision: r.revision,
            key_count: r.key_count,
            prefix: settings.prefix.as_str().to_string(),
            leased: (r.leased.into_iter())
                .map(|h| LeasedHost {
                    host: h.host,
                    lease: h.lease,
                    ttl_s: h.ttl_seconds,
                })
                .collect(),
        };
        Ok(result.map(report).map_err(from_error))
    }

    /// A fresh instance in a fresh store, for one call, with the memory limit and the
    /// command's deadline.
    async fn instantiate(&self, egress: &EgressPolicy) -> wasmtime::Result<(Store<State>, bindings::Core)> {
        let state = State {
            // Nothing from the host's environment, arguments or filesystem.
            wasi: WasiCtxBuilder::new().build(),
            http: WasiHttpCtx::new(),
            hooks: egress.clone(),
            table: ResourceTable::new(),
            memory: MemoryLimit::new(&self.limits),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        self.deadline.arm(&mut store);
        let instance = self.pre.instantiate_async(&mut store).await?;
        Ok((store, instance))
    }
}

/// What `check` found: each finding's line and whether it is an error, and the summary
/// line after them.
#[derive(Debug)]
pub struct CheckReport {
    /// (error, line), errors first.
    pub findings: Vec<(bool, String)>,
    pub revision: i64,
    pub key_count: u64,
    pub prefix: String,
    /// Registered hosts and the time their leases have left.
    pub leased: Vec<LeasedHost>,
}

impl CheckReport {
    /// Whether `--list` would fail on this keyspace, or Ansible refuse what it reads.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|(error, _)| *error)
    }

    pub fn summary(&self) -> String {
        let errors = self.findings.iter().filter(|(error, _)| *error).count();
        format!(
            "{errors} error(s), {} warning(s) in {} key(s) under {}/ at revision {}",
            self.findings.len() - errors,
            self.key_count,
            self.prefix,
            self.revision
        )
    }
}

/// Which endpoints the component may send HTTP requests to: exactly the configured ones,
/// same scheme, same host and port. Everything else is refused with `HttpRequestDenied`.
/// https requests go through the host's own TLS client ([`HttpsClient`]). Under the gRPC
/// transport, it holds the [`Reader`] that answers the core's `etcd` import instead,
/// shared by the calls of one command.
#[derive(Debug, Clone)]
pub struct EgressPolicy {
    allowed: Arc<Vec<Endpoint>>,
    https: Option<Arc<HttpsClient>>,
    grpc: Option<Arc<Mutex<Reader>>>,
}

impl EgressPolicy {
    /// Allows the given endpoint URLs (as in [`Settings::endpoints`]); https ones are reached
    /// with the TLS files (a private CA, a client certificate), read here.
    pub fn new(urls: &[String], tls: &TlsFiles) -> Result<EgressPolicy, Error> {
        let allowed: Vec<Endpoint> = urls
            .iter()
            .map(|url| Endpoint::parse(url).map_err(|why| Error::InvalidOptions(format!("endpoint {url:?}: {why}"))))
            .collect::<Result<_, _>>()?;
        let https = match allowed.iter().any(|e| e.scheme == "https") {
            true => Some(Arc::new(HttpsClient::new(tls)?)),
            false => None,
        };
        Ok(EgressPolicy {
            allowed: Arc::new(allowed),
            https,
            grpc: None,
        })
    }

    /// The policy for `settings`: its endpoints and TLS files, and its transport.
    pub fn for_settings(settings: &Settings) -> Result<EgressPolicy, String> {
        let mut policy = EgressPolicy::new(&settings.endpoints, &settings.tls).map_err(|e| e.to_string())?;
        if settings.transport == Transport::Grpc {
            policy.grpc = Some(Arc::new(Mutex::new(Reader::new(settings)?)));
        }
        Ok(policy)
    }

    fn allows(&self, uri: &http::Uri) -> bool {
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return false;
        };
        self.allowed
            .iter()
            .any(|e| e.scheme.eq_ignore_ascii_case(scheme) && e.authority.eq_ignore_ascii_case(authority.as_str()))
    }
}

type ResponseFuture = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for EgressPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _body_result: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> ResponseFuture {
        if !self.allows(request.uri()) {
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        if request.uri().scheme() == Some(&http::uri::Scheme::HTTPS) {
            let Some(https) = self.https.clone() else {
                return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
            };
            return Box::new(https.send(request, options));
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: EgressPolicy,
    table: ResourceTable,
    memory: MemoryLimit,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// The options the component is called with. Under the gRPC transport the credentials stay
/// in this host: its own `etcd` logs in, and the component never sees the password.
fn to_options(s: &Settings) -> wit::Options {
    let credentials = match s.transport {
        Transport::Grpc => None,
        Transport::Gateway => s.credentials.as_ref(),
    };
    wit::Options {
        endpoints: s.endpoints.clone(),
        prefix: s.prefix.as_str().to_string(),
        page_size: s.page_size,
        connect_timeout_ms: s.dial_timeout_ms,
        request_timeout_ms: s.command_timeout_ms,
        credentials: credentials.map(|c| wit_etcd::Credentials {
            user: c.user.clone(),
            password: c.password.clone(),
        }),
        trust_templates: s.values.trust_templates,
        typed_values: s.values.typed_values,
        nested_keys: s.values.nested_keys,
    }
}

fn tally(t: wit::KeyTally) -> Tally {
    Tally {
        count: t.count,
        example: t.example,
    }
}

fn from_output(o: wit::Output) -> Answer {
    Answer {
        json: o.json,
        warnings: Warnings {
            skipped: o.skipped.map(tally),
            invalid_names: o.invalid_names.map(tally),
        },
        revision: o.revision,
        key_count: o.key_count,
    }
}

etcd_inventory::inventory_error_from_wit!(from_error, from_etcd_error, wit);

etcd_inventory::etcd_error_conversions!(from_etcd_error, to_etcd_error, wit_etcd);

impl State {
    /// The command's gRPC reader; only the gRPC transport links `etcd`, and gives one.
    fn reader(&self) -> wasmtime::Result<Arc<Mutex<Reader>>> {
        (self.hooks.grpc.clone()).ok_or_else(|| wasmtime::format_err!("no gRPC reader for the etcd import"))
    }
}

impl wit_etcd::Host for State {}

impl wit_etcd::HostClient for State {
    async fn connect(
        &mut self,
        _connection: wit_etcd::Connection,
    ) -> wasmtime::Result<Result<Resource<EtcdClient>, wit_etcd::Error>> {
        // Connected lazily, with this host's own settings: nothing to check here.
        Ok(Ok(self.table.push(EtcdClient)?))
    }

    async fn read(
        &mut self,
        _client: Resource<EtcdClient>,
        start: Vec<u8>,
        end: Vec<u8>,
        page_size: u32,
    ) -> wasmtime::Result<Result<Resource<PagedRead>, wit_etcd::Error>> {
        let read = self.reader()?.lock().await.read(&KeyRange { start, end }, page_size);
        Ok(Ok(self.table.push(read)?))
    }

    async fn current_revision(
        &mut self,
        _client: Resource<EtcdClient>,
        key: Vec<u8>,
    ) -> wasmtime::Result<Result<i64, wit_etcd::Error>> {
        let reader = self.reader()?;
        let answer = reader.lock().await.current_revision(&key).await;
        Ok(answer.map_err(to_etcd_error))
    }

    async fn stamp(
        &mut self,
        _client: Resource<EtcdClient>,
        start: Vec<u8>,
        end: Vec<u8>,
        after: i64,
    ) -> wasmtime::Result<Result<wit_etcd::RangeStamp, wit_etcd::Error>> {
        let reader = self.reader()?;
        let answer = reader.lock().await.stamp(&KeyRange { start, end }, after).await;
        Ok(answer
            .map(|s| wit_etcd::RangeStamp {
                revision: s.revision,
                count: s.count,
                modified: s.modified,
            })
            .map_err(to_etcd_error))
    }

    async fn lease_time_to_live(
        &mut self,
        _client: Resource<EtcdClient>,
        lease: i64,
    ) -> wasmtime::Result<Result<Option<i64>, wit_etcd::Error>> {
        let reader = self.reader()?;
        let answer = reader.lock().await.lease_ttl(lease).await;
        Ok(answer.map_err(to_etcd_error))
    }

    async fn drop(&mut self, client: Resource<EtcdClient>) -> wasmtime::Result<()> {
        self.table.delete(client)?;
        Ok(())
    }
}

impl wit_etcd::HostRangeRead for State {
    async fn next(
        &mut self,
        read: Resource<PagedRead>,
    ) -> wasmtime::Result<Result<Option<wit_etcd::Page>, wit_etcd::Error>> {
        let reader = self.reader()?;
        let mut reader = reader.lock().await;
        let paged = self.table.get_mut(&read)?;
        let page = match paged.next_page(&mut reader).await {
            Ok(page) => page,
            Err(e) => return Ok(Err(to_etcd_error(e))),
        };
        let revision = paged.revision();
        Ok(Ok(page.map(|kvs| {
            let bytes = kvs.iter().map(|kv| kv.key().len() + kv.value().len()).sum();
            let mut page = wit_etcd::Page {
                revision,
                bytes: Vec::with_capacity(bytes),
                key_lengths: Vec::with_capacity(kvs.len()),
                value_lengths: Vec::with_capacity(kvs.len()),
                leases: Vec::with_capacity(kvs.len()),
            };
            for kv in &kvs {
                page.bytes.extend_from_slice(kv.key());
                page.bytes.extend_from_slice(kv.value());
                // etcd's keys and values are far below 4 GiB (1.5 MiB requests by default).
                page.key_lengths.push(kv.key().len() as u32);
                page.value_lengths.push(kv.value().len() as u32);
                page.leases.push(kv.lease());
            }
            page
        })))
    }

    async fn drop(&mut self, read: Resource<PagedRead>) -> wasmtime::Result<()> {
        self.table.delete(read)?;
        Ok(())
    }
}
