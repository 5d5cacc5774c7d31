//! The `settings` export: an embedder hands over its arguments, environment and etcd.ini
//! text, and gets back the `options` the `inventory` functions take, resolved by the same
//! code as the binary's and the component's own command line ([`crate::settings::resolve`]
//! through [`crate::cli::parse`]).

use super::exports::etcd_inventory::inventory::settings::{self as wit_settings, Resolved, SettingsError};
use super::{Component, refuse_binary_only, wit};
use crate::cli;
use crate::settings::{self, CACHE, IniFile, Settings};

impl wit_settings::Guest for Component {
    fn resolve(
        args: Vec<String>,
        env: Vec<(String, String)>,
        ini: Option<wit_settings::IniFile>,
    ) -> Result<Resolved, SettingsError> {
        let (mode, mut flags) = match cli::parse(args) {
            Ok(cli::Parsed::Run { mode, flags }) => (mode, *flags),
            Ok(cli::Parsed::Help) => return Err(SettingsError::Usage(cli::USAGE.to_string())),
            Err(why) => return Err(SettingsError::Usage(why)),
        };
        // The cache is the native binary's: whatever etcd.ini's [cache] says, it is not
        // resolved here (so it cannot fail here either).
        flags.set(&CACHE, "false".to_string());
        // The last of a name given twice wins, as it would in an environment block.
        let lookup = |name: &str| env.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let ini = ini.map(|file| IniFile {
            path: file.path,
            text: file.text,
        });
        let resolved = settings::resolve(&flags, &lookup, ini.as_ref())
            .and_then(refuse_binary_only)
            .map_err(|e| SettingsError::Invalid(e.to_string()))?;
        let limits = wit_settings::Limits {
            memory_mib: resolved.limits.memory_mib,
            time_limit_ms: resolved.limits.time_limit_ms,
        };
        Ok(Resolved {
            limits,
            options: options(resolved),
            mode: match mode {
                cli::Mode::List => wit_settings::Mode::List,
                cli::Mode::Host(host) => wit_settings::Mode::Host(host),
                cli::Mode::Graph(root) => wit_settings::Mode::Graph(root),
            },
        })
    }
}

/// The `options` record for resolved settings: what `from_options` reads back.
fn options(settings: Settings) -> wit::Options {
    wit::Options {
        endpoints: settings.endpoints,
        prefix: settings.prefix.as_str().to_string(),
        page_size: settings.page_size,
        connect_timeout_ms: settings.dial_timeout_ms,
        request_timeout_ms: settings.command_timeout_ms,
        credentials: settings.credentials.map(|c| wit::Credentials {
            user: c.user,
            password: c.password,
        }),
        trust_templates: settings.values.trust_templates,
        typed_values: settings.values.typed_values,
        nested_keys: settings.values.nested_keys,
    }
}
