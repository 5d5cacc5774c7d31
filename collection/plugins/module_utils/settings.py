# Generated from component/src/settings/defs.rs by component/tests/settings_table.rs (BLESS=1 rewrites it): do not edit.
"""Each setting of etcd-inventory: (option, environment variable, flag, type)."""

SETTINGS = (
    ("endpoints", "ETCDCTL_ENDPOINTS", "--endpoints", "str"),
    ("prefix", "ETCD_INVENTORY_PREFIX", "--prefix", "str"),
    ("user", "ETCDCTL_USER", "--user", "str"),
    ("password_file", None, "--password-file", "path"),
    ("password", "ETCDCTL_PASSWORD", None, "str"),
    ("cacert", "ETCDCTL_CACERT", "--cacert", "path"),
    ("cert", "ETCDCTL_CERT", "--cert", "path"),
    ("key", "ETCDCTL_KEY", "--key", "path"),
    ("dial_timeout", "ETCDCTL_DIAL_TIMEOUT", "--dial-timeout", "str"),
    ("command_timeout", "ETCDCTL_COMMAND_TIMEOUT", "--command-timeout", "str"),
    ("page_size", "ETCD_INVENTORY_PAGE_SIZE", "--page-size", "int"),
    ("transport", "ETCD_INVENTORY_TRANSPORT", "--transport", "str"),
    ("memory_limit", "ETCD_INVENTORY_MEMORY_LIMIT", "--memory-limit", "int"),
    ("time_limit", "ETCD_INVENTORY_TIME_LIMIT", "--time-limit", "str"),
    ("trust_templates", "ETCD_INVENTORY_TRUST_TEMPLATES", "--trust-templates", "bool"),
    ("typed_values", "ETCD_INVENTORY_TYPED_VALUES", "--typed-values", "bool"),
    ("nested_keys", "ETCD_INVENTORY_NESTED_KEYS", "--nested-keys", "bool"),
    ("cache_enabled", "ETCD_INVENTORY_CACHE", "--cache", "bool"),
    ("cache_path", "ETCD_INVENTORY_CACHE_PATH", "--cache-path", "path"),
    ("cache_max_age", "ETCD_INVENTORY_CACHE_MAX_AGE", "--cache-max-age", "int"),
    ("stale_cache_fallback", "ETCD_INVENTORY_STALE_CACHE_FALLBACK", "--stale-cache-fallback", "bool"),
    ("refresh_cache", "ETCD_INVENTORY_REFRESH_CACHE", "--refresh-cache", "bool"),
    ("ini_path", "ETCD_INI_PATH", None, "path"),
)

# The settings the write side reads: the options of the modules (host, group).
CONNECTION = (
    "endpoints",
    "prefix",
    "user",
    "password_file",
    "password",
    "cacert",
    "cert",
    "key",
    "dial_timeout",
    "command_timeout",
    "typed_values",
    "nested_keys",
    "ini_path",
)

# Options whose value is a secret, which Ansible never logs.
NO_LOG = (
    "password",
)
