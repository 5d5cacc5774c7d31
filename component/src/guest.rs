//! The component's exports, and the imported `etcd` interface as the core's [`Etcd`]
//! (wasm32 only). Everything here is glue: settings, reading and building come from the
//! rest of the crate.

use std::io::Write as _;

use crate::error::Error;
use crate::etcd::{Etcd, EtcdError, Page, RangeStamp};
use crate::inventory::{LayoutError, Tally, Vars, Warnings};
use crate::layout::{KeyRange, Prefix};
use crate::settings::{self, Credentials, Settings, Transport};
use crate::values::ValueRules;
use crate::{Answer, Listed, cli};

wit_bindgen::generate!({
    path: "../wit",
    world: "core",
    generate_all,
});

use etcd_inventory::inventory::etcd;
use exports::etcd_inventory::inventory::inventory as wit;

mod settings_export;

struct Component;

export!(Component);

impl wit::Guest for Component {
    fn list_inventory(options: wit::Options) -> Result<wit::Output, wit::Error> {
        let settings = from_options(options)?;
        let answer = crate::list_inventory(&mut ImportedEtcd::connect(&settings)?, &settings)?;
        Ok(answer.into())
    }

    fn read_inventory(options: wit::Options) -> Result<wit::InventoryData, wit::Error> {
        let settings = from_options(options)?;
        let listed = crate::read_inventory(&mut ImportedEtcd::connect(&settings)?, &settings)?;
        Ok(listed.into())
    }

    fn host_vars(options: wit::Options, host: String) -> Result<wit::Output, wit::Error> {
        let settings = from_options(options)?;
        let answer = crate::host_vars(&mut ImportedEtcd::connect(&settings)?, &settings, &host)?;
        Ok(answer.into())
    }

    fn check_inventory(options: wit::Options) -> Result<wit::CheckReport, wit::Error> {
        let settings = from_options(options)?;
        let checked = crate::check_inventory(&mut ImportedEtcd::connect(&settings)?, &settings)?;
        Ok(wit::CheckReport {
            findings: (checked.findings.iter())
                .map(|finding| wit::Finding {
                    error: finding.is_error(),
                    text: finding.to_string(),
                })
                .collect(),
            revision: checked.revision,
            key_count: checked.key_count,
            leased: (checked.leased.into_iter())
                .map(|h| wit::LeasedHost {
                    host: h.host,
                    lease: h.lease,
                    ttl_seconds: h.ttl_s,
                })
                .collect(),
        })
    }

    fn describe_error(error: wit::Error) -> String {
        from_wit(error).to_string()
    }

    fn describe_warnings(
        prefix: String,
        skipped: Option<wit::KeyTally>,
        invalid_names: Option<wit::KeyTally>,
    ) -> Vec<String> {
        let tally = |t: wit::KeyTally| Tally {
            count: t.count,
            example: t.example,
        };
        let warnings = Warnings {
            skipped: skipped.map(tally),
            invalid_names: invalid_names.map(tally),
        };
        warnings.lines(&Prefix::new(&prefix))
    }

    fn inventory_unchanged(options: wit::Options, revision: i64, key_count: u64) -> Result<Option<i64>, wit::Error> {
        let settings = from_options(options)?;
        Ok(crate::inventory_unchanged(
            &mut ImportedEtcd::connect(&settings)?,
            &settings,
            revision,
            key_count,
        )?)
    }
}

impl exports::wasi::cli::run::Guest for Component {
    /// The command for stock hosts: same flags, environment and etcd.ini as the binary.
    fn run() -> Result<(), ()> {
        let mut args = std::env::args();
        let program = args.next().unwrap_or_default();
        let (mode, mut flags) = match cli::parse(args) {
            Ok(cli::Parsed::Run { mode, flags }) => (mode, *flags),
            Ok(cli::Parsed::Help) => {
                println!("{}", cli::USAGE);
                return Ok(());
            }
            Err(usage) => {
                eprintln!("etcd-inventory: {usage}\n{}", cli::USAGE);
                return Err(());
            }
        };
        // The cache is the native host's (it needs a 0600 file, which wasi:filesystem cannot
        // make): here every run reads etcd, whatever etcd.ini's [cache] says.
        flags.cache = Some("false".to_string());
        let env = |name: &str| std::env::var(name).ok();
        let result = settings::load_ini(&env, Some(std::path::Path::new(&program)))
            .and_then(|ini| settings::resolve(&flags, &env, ini.as_ref()))
            .and_then(refuse_binary_only)
            .and_then(|settings| {
                let mut etcd = ImportedEtcd::connect(&settings)?;
                let answer = match &mode {
                    cli::Mode::List => crate::list_inventory(&mut etcd, &settings),
                    cli::Mode::Host(host) => crate::host_vars(&mut etcd, &settings, host),
                    cli::Mode::Graph(root) => crate::graph_inventory(&mut etcd, &settings, root),
                }?;
                Ok((answer, settings.prefix))
            });
        match result {
            Ok((answer, prefix)) => {
                for warning in answer.warnings.lines(&prefix) {
                    eprintln!("etcd-inventory: warning: {warning}");
                }
                let mut out = std::io::stdout().lock();
                out.write_all(answer.json.as_bytes())
                    .and_then(|()| out.write_all(b"\n"))
                    .and_then(|()| out.flush())
                    .map_err(|e| eprintln!("etcd-inventory: cannot write the inventory: {e}"))
            }
            Err(e) => {
                eprintln!("etcd-inventory: {e}");
                Err(())
            }
        }
    }
}

/// What only the `etcd-inventory` binary does, refused with the reason rather than
/// ignored: TLS files and the gRPC transport.
fn refuse_binary_only(settings: Settings) -> Result<Settings, Error> {
    refuse_tls_files(settings).and_then(refuse_grpc)
}

/// A component host reaches etcd through `wasi:http`, i.e. its JSON gateway: a gRPC
/// transport set anywhere (the binary's default is no one's choice) is refused.
fn refuse_grpc(settings: Settings) -> Result<Settings, Error> {
    match (settings.transport, &settings.transport_source) {
        (Transport::Grpc, Some(source)) => Err(Error::InvalidOptions(format!(
            "transport grpc is set (from {source}), but a component host reaches etcd only through its JSON \
             gateway (wasi:http): set transport to gateway or leave it unset, or use the etcd-inventory binary"
        ))),
        _ => Ok(settings),
    }
}

/// `wasi:http` carries no TLS settings, and a stock host's sender trusts the public roots
/// only: rather than ignore a configured CA or client certificate, say so.
fn refuse_tls_files(settings: Settings) -> Result<Settings, Error> {
    if settings.tls.is_empty() {
        return Ok(settings);
    }
    Err(Error::InvalidOptions(
        "a CA or client certificate is set (--cacert/--cert/--key, ETCDCTL_CACERT/ETCDCTL_CERT/ETCDCTL_KEY or \
         ca_cert/client_cert/client_key in etcd.ini), but a component host's wasi:http has no TLS settings: \
         use the etcd-inventory binary, whose host makes TLS connections with them"
            .to_string(),
    ))
}

fn from_options(o: wit::Options) -> Result<Settings, Error> {
    let values = ValueRules {
        trust_templates: o.trust_templates,
        typed_values: o.typed_values,
        nested_keys: o.nested_keys,
    };
    Settings::checked(
        &o.endpoints,
        &o.prefix,
        o.page_size,
        o.connect_timeout_ms,
        o.request_timeout_ms,
        values,
        o.credentials.map(|c| Credentials {
            user: c.user,
            password: c.password,
        }),
    )
}

/// The imported `etcd` interface as the core's [`Etcd`]: a connection, and the read under way.
struct ImportedEtcd {
    client: etcd::Client,
    read: Option<etcd::RangeRead>,
}

impl ImportedEtcd {
    fn connect(settings: &Settings) -> Result<ImportedEtcd, Error> {
        let connection = etcd::Connection {
            endpoints: settings.endpoints.clone(),
            credentials: settings.credentials.as_ref().map(|c| etcd::Credentials {
                user: c.user.clone(),
                password: c.password.clone(),
            }),
            connect_timeout_ms: settings.dial_timeout_ms,
            request_timeout_ms: settings.command_timeout_ms,
        };
        let client = etcd::Client::connect(&connection).map_err(from_etcd)?;
        Ok(ImportedEtcd { client, read: None })
    }
}

impl Etcd for ImportedEtcd {
    fn read(&mut self, range: &KeyRange, page_size: u32) -> Result<(), EtcdError> {
        self.read = Some(
            self.client
                .read(&range.start, &range.end, page_size)
                .map_err(from_etcd)?,
        );
        Ok(())
    }

    fn next_page(&mut self) -> Result<Option<Page>, EtcdError> {
        let Some(read) = &self.read else {
            return Ok(None);
        };
        let page = read.next().map_err(from_etcd)?;
        Ok(page.map(|page| Page {
            revision: page.revision,
            bytes: page.bytes,
            key_lengths: page.key_lengths,
            value_lengths: page.value_lengths,
            leases: page.leases,
        }))
    }

    fn current_revision(&mut self, key: &[u8]) -> Result<i64, EtcdError> {
        self.client.current_revision(key).map_err(from_etcd)
    }

    fn stamp(&mut self, range: &KeyRange, after: i64) -> Result<RangeStamp, EtcdError> {
        let stamp = self.client.stamp(&range.start, &range.end, after).map_err(from_etcd)?;
        Ok(RangeStamp {
            revision: stamp.revision,
            count: stamp.count,
            modified: stamp.modified,
        })
    }

    fn lease_ttl(&mut self, lease: i64) -> Result<Option<i64>, EtcdError> {
        self.client.lease_time_to_live(lease).map_err(from_etcd)
    }
}

crate::etcd_error_conversions!(from_etcd, to_etcd, etcd);

impl From<Answer> for wit::Output {
    fn from(a: Answer) -> Self {
        wit::Output {
            json: a.json,
            skipped: a.warnings.skipped.map(Into::into),
            invalid_names: a.warnings.invalid_names.map(Into::into),
            revision: a.revision,
            key_count: a.key_count,
        }
    }
}

impl From<Listed> for wit::InventoryData {
    fn from(listed: Listed) -> Self {
        let inventory = listed.inventory;
        wit::InventoryData {
            groups: (inventory.groups.into_iter())
                .map(|(name, group)| wit::Group {
                    name,
                    hosts: group.hosts.in_order().into_iter().map(String::from).collect(),
                    children: group.children.in_order().into_iter().map(String::from).collect(),
                    vars: variables(group.vars),
                })
                .collect(),
            hosts: (inventory.hostvars.into_iter())
                .map(|(name, vars)| wit::Host {
                    name,
                    vars: variables(vars),
                })
                .collect(),
            skipped: listed.warnings.skipped.map(Into::into),
            invalid_names: listed.warnings.invalid_names.map(Into::into),
            revision: listed.revision,
            key_count: listed.key_count,
        }
    }
}

impl From<Tally> for wit::KeyTally {
    fn from(s: Tally) -> Self {
        wit::KeyTally {
            count: s.count,
            example: s.example,
        }
    }
}

/// Each value as the JSON text `--list` prints for it.
fn variables(vars: Vars) -> Vec<wit::Variable> {
    vars.into_iter()
        .map(|(name, value)| wit::Variable {
            name,
            // Strings, maps and JSON values: serialisation cannot fail.
            value: serde_json::to_string(&value).expect("a variable serialises"),
        })
        .collect()
}

impl From<Error> for wit::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidOptions(text) => wit::Error::InvalidOptions(text),
            Error::Etcd(e) => wit::Error::Etcd(to_etcd(e)),
            Error::Layout(LayoutError::ChildrenCycle(groups)) => wit::Error::ChildrenCycle(groups),
            Error::Layout(LayoutError::AllAsChild { parent }) => wit::Error::AllAsChild(parent),
            Error::Layout(LayoutError::ReservedGroupName { group }) => wit::Error::ReservedGroupName(group),
            Error::Layout(LayoutError::MarkerName { key, name }) => {
                wit::Error::MarkerName(wit::MarkerName { key, name })
            }
            Error::Layout(LayoutError::NestedTooDeep { key }) => wit::Error::NestedTooDeep(key),
            Error::Layout(LayoutError::NonUtf8Key { key }) => wit::Error::NonUtf8Key(key),
            Error::Layout(LayoutError::NonUtf8Value { key }) => wit::Error::NonUtf8Value(key),
            Error::Layout(LayoutError::NestedClash { value_key, map_key }) => {
                wit::Error::NestedClash(wit::NestedClash { value_key, map_key })
            }
        }
    }
}

crate::inventory_error_from_wit!(from_wit, from_etcd, wit);
