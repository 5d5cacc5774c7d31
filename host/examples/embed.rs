//! Another Rust program embedding the etcd-inventory component: it loads the portable
//! `.wasm` (from `etcd-inventory component --output etcd_inventory.wasm`), lets it reach
//! one etcd endpoint and nothing else, and gets the inventory as data through the typed
//! `read-inventory` export: groups, hosts and variables, no JSON document to parse.
//!
//! ```text
//! cargo run --example embed -- etcd_inventory.wasm http://127.0.0.1:2379 [PREFIX]
//! ```
//!
//! Prints one line per group (`group NAME hosts=A,B children=C vars=V`) and per host
//! (`host NAME VAR=JSON ...`).

use std::future::Future;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

mod bindings {
    // The component's WIT, as shipped in the repository's wit/ directory.
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "etcd-inventory:inventory/etcd-inventory",
        exports: { default: async },
        with: {
            "wasi": wasmtime_wasi::p2::bindings,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        },
    });
}

use bindings::exports::etcd_inventory::inventory::inventory::{InventoryData, Options};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [wasm, endpoint, rest @ ..] = args.as_slice() else {
        return Err("usage: embed COMPONENT.wasm ENDPOINT [PREFIX]".into());
    };
    let prefix = rest.first().map_or("/ansible", String::as_str);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let inventory = runtime.block_on(read_inventory(wasm, endpoint, prefix))?;
    for group in &inventory.groups {
        let vars: Vec<&str> = group.vars.iter().map(|v| v.name.as_str()).collect();
        println!(
            "group {} hosts={} children={} vars={}",
            group.name,
            group.hosts.join(","),
            group.children.join(","),
            vars.join(",")
        );
    }
    for host in &inventory.hosts {
        let vars: Vec<String> = host.vars.iter().map(|v| format!("{}={}", v.name, v.value)).collect();
        println!("host {} {}", host.name, vars.join(" "));
    }
    Ok(())
}

/// Compiles the component, instantiates it in a store of its own and calls `read-inventory`.
async fn read_inventory(wasm: &str, endpoint: &str, prefix: &str) -> Result<InventoryData, Box<dyn std::error::Error>> {
    let engine = Engine::new(&Config::new())?;
    let component = Component::from_file(&engine, wasm)?;
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    let authority = endpoint.split_once("://").map_or(endpoint, |(_, rest)| rest);
    let state = State {
        // No files, no environment, no arguments: the options below are all it gets.
        wasi: WasiCtxBuilder::new().build(),
        http: WasiHttpCtx::new(),
        policy: OnlyEtcd {
            authority: authority.trim_end_matches('/').to_string(),
        },
        table: ResourceTable::new(),
    };
    let mut store = Store::new(&engine, state);
    let instance = bindings::EtcdInventory::instantiate_async(&mut store, &component, &linker).await?;
    let options = Options {
        endpoints: vec![endpoint.to_string()],
        prefix: prefix.to_string(),
        page_size: 10_000,
        connect_timeout_ms: 2_000,
        request_timeout_ms: 5_000,
        credentials: None,
        // Plain strings: this program renders no templates.
        trust_templates: true,
        typed_values: false,
        nested_keys: false,
    };
    let api = instance.etcd_inventory_inventory_inventory();
    match api.call_read_inventory(&mut store, &options).await? {
        Ok(inventory) => Ok(inventory),
        // The WIT variant, typed: a real program would match on its cases.
        Err(error) => Err(format!("the component could not read the inventory: {error:?}").into()),
    }
}

/// This program's own sandbox policy: HTTP to the etcd endpoint's host and port only.
struct OnlyEtcd {
    authority: String,
}

type Sent = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for OnlyEtcd {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _body_result: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        let allowed = request.uri().authority().map(|a| a.as_str()) == Some(self.authority.as_str());
        Box::new(async move {
            if !allowed {
                return Err(wasmtime_wasi_http::Error::HttpRequestDenied);
            }
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
    policy: OnlyEtcd,
    table: ResourceTable,
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
            hooks: &mut self.policy,
        }
    }
}
