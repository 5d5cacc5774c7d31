# Generated from component/src/settings/defs.rs by component/tests/settings_table.rs (BLESS=1 rewrites it): do not edit.
"""The etcd-inventory settings as options of this collection's inventory plugin, and those of the write side as options of its modules."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  endpoints:
    description:
      - "etcd members, comma-separated, tried in order."
      - "Unset, etcd.ini's C(endpoints) in C([etcd]) or else V(http://127.0.0.1:2379) applies."
      - "The binary's C(--endpoints)."
    type: str
    env:
      - name: ETCDCTL_ENDPOINTS
  prefix:
    description:
      - "Key prefix of the inventory: where its keys live."
      - "Unset, etcd.ini's C(prefix) in C([etcd]) or else V(/ansible) applies."
      - "The binary's C(--prefix)."
    type: str
    env:
      - name: ETCD_INVENTORY_PREFIX
  user:
    description:
      - "etcd user name, when etcd has auth on (the password is never a flag: a command line shows in ps)."
      - "Unset, etcd.ini's C(username) in C([etcd]) or else this applies: none."
      - "The binary's C(--user)."
    type: str
    env:
      - name: ETCDCTL_USER
  password_file:
    description:
      - "File whose first line is the etcd user's password (within its first 4 KiB; a regular file only; a
        warning if group or others may read or write it); beats the password in the environment or etcd.ini."
      - "Unset, this applies: none."
      - "The binary's C(--password-file)."
    type: path
  password:
    description:
      - "The etcd user's password (never a flag: give it here, in ETCDCTL_USER as NAME:PASSWORD, or in a
        --password-file)."
      - "Unset, etcd.ini's C(password) in C([etcd]) or else this applies: none."
    type: str
    env:
      - name: ETCDCTL_PASSWORD
  cacert:
    description:
      - "CA certificate (PEM) that signed etcd's certificate, instead of the public roots."
      - "Unset, etcd.ini's C(ca_cert) in C([etcd]) or else this applies: public roots."
      - "The binary's C(--cacert)."
    type: path
    env:
      - name: ETCDCTL_CACERT
  cert:
    description:
      - "Client certificate (PEM) for etcd's --client-cert-auth."
      - "Unset, etcd.ini's C(client_cert) in C([etcd]) or else this applies: none."
      - "The binary's C(--cert)."
    type: path
    env:
      - name: ETCDCTL_CERT
  key:
    description:
      - "Private key (PEM) of the client certificate."
      - "Unset, etcd.ini's C(client_key) in C([etcd]) or else this applies: none."
      - "The binary's C(--key)."
    type: path
    env:
      - name: ETCDCTL_KEY
  dial_timeout:
    description:
      - "Time to connect to one member (TCP and TLS)."
      - "Unset, etcd.ini's C(dial_timeout) in C([etcd]) or else V(2s) applies."
      - "The binary's C(--dial-timeout)."
    type: str
    env:
      - name: ETCDCTL_DIAL_TIMEOUT
  command_timeout:
    description:
      - "Time for each answer to start, and between its bytes; a stalled member passes the read to the next."
      - "Unset, etcd.ini's C(command_timeout) in C([etcd]) or else V(5s) applies."
      - "The binary's C(--command-timeout)."
    type: str
    env:
      - name: ETCDCTL_COMMAND_TIMEOUT
  page_size:
    description:
      - "Most keys per range request; pages also stay near 1 MiB."
      - "Unset, etcd.ini's C(page_size) in C([etcd]) or else V(10000) applies."
      - "The binary's C(--page-size)."
    type: int
    env:
      - name: ETCD_INVENTORY_PAGE_SIZE
  transport:
    description:
      - "How the binary carries the component's reads: grpc (etcd's gRPC API, fastest) or gateway (etcd's
        JSON gateway, for a proxy that passes only HTTP/1)."
      - "Unset, etcd.ini's C(transport) in C([etcd]) or else V(grpc) applies."
      - "The binary's C(--transport)."
    type: str
    choices: [grpc, gateway]
    env:
      - name: ETCD_INVENTORY_TRANSPORT
  memory_limit:
    description:
      - "Most memory the component may use, in MiB (at most 4096; 100,000 hosts of 10 variables need about
        190), for --list, --host, --graph and check."
      - "Unset, etcd.ini's C(memory_limit) in C([etcd]) or else V(1024) applies."
      - "The binary's C(--memory-limit)."
    type: int
    env:
      - name: ETCD_INVENTORY_MEMORY_LIMIT
  time_limit:
    description:
      - "Longest the component may take for one command, reading etcd included (every read of the command
        shares it); the same four commands."
      - "Unset, etcd.ini's C(time_limit) in C([etcd]) or else V(120s) applies."
      - "The binary's C(--time-limit)."
    type: str
    env:
      - name: ETCD_INVENTORY_TIME_LIMIT
  trust_templates:
    description:
      - "Emit values as plain strings that Ansible renders as templates; by default they are marked unsafe."
      - "Unset, off: values are data, never rendered. The plugin applies this itself: etcd.ini's
        C(trust_templates) does not apply here."
      - "The binary's C(--trust-templates)."
    type: bool
    env:
      - name: ETCD_INVENTORY_TRUST_TEMPLATES
  typed_values:
    description:
      - "Decode values that are JSON into booleans, numbers, lists and maps; import then quotes strings that
        would decode."
      - "Unset, etcd.ini's C(typed_values) in C([etcd]) or else this applies: off."
      - "The binary's C(--typed-values)."
    type: bool
    env:
      - name: ETCD_INVENTORY_TYPED_VALUES
  nested_keys:
    description:
      - "Build nested maps from deeper keys such as hostvars/HOST/nginx/port (else they are skipped)."
      - "Unset, etcd.ini's C(nested_keys) in C([etcd]) or else this applies: off."
      - "The binary's C(--nested-keys)."
    type: bool
    env:
      - name: ETCD_INVENTORY_NESTED_KEYS
  cache_enabled:
    description:
      - "Keep the --list answer in a cache file, validated against etcd before use."
      - "Unset, etcd.ini's C(enabled) in C([cache]) or else this applies: off."
      - "The binary's C(--cache)."
    type: bool
    env:
      - name: ETCD_INVENTORY_CACHE
  cache_path:
    description:
      - "Directory of the cache files."
      - "Unset, etcd.ini's C(path) in C([cache]) or else V(~/.ansible/tmp) applies."
      - "The binary's C(--cache-path)."
    type: path
    env:
      - name: ETCD_INVENTORY_CACHE_PATH
  cache_max_age:
    description:
      - "Seconds during which the cache is served without asking etcd; after them it is validated (0: every
        time)."
      - "Unset, etcd.ini's C(max_age) in C([cache]) or else V(0) applies."
      - "The binary's C(--cache-max-age)."
    type: int
    env:
      - name: ETCD_INVENTORY_CACHE_MAX_AGE
  stale_cache_fallback:
    description:
      - "When no endpoint answers, serve the cache however old, with a warning."
      - "Unset, etcd.ini's C(stale_fallback) in C([cache]) or else this applies: off."
      - "The binary's C(--stale-cache-fallback)."
    type: bool
    env:
      - name: ETCD_INVENTORY_STALE_CACHE_FALLBACK
  refresh_cache:
    description:
      - "Read etcd in full and rewrite the cache."
      - "Unset, this applies: off."
      - "The binary's C(--refresh-cache)."
    type: bool
    env:
      - name: ETCD_INVENTORY_REFRESH_CACHE
  ini_path:
    description:
      - "Where etcd.ini is (a regular file of at most 1 MiB)."
      - "Unset, this applies: `etcd.ini` beside the binary."
    type: path
    env:
      - name: ETCD_INI_PATH
"""

    # The modules' connection: the settings the write side reads (endpoints, credentials, TLS files,
    # timeouts, how values are written) and the binary to run.
    CONNECTION = r"""
options:
  endpoints:
    description:
      - "etcd members, comma-separated, tried in order."
      - "Unset, C(ETCDCTL_ENDPOINTS) in the environment the module runs in, else etcd.ini's C(endpoints) in
        C([etcd]) or else V(http://127.0.0.1:2379) applies."
      - "The binary's C(--endpoints)."
    type: str
  prefix:
    description:
      - "Key prefix of the inventory: where its keys live."
      - "Unset, C(ETCD_INVENTORY_PREFIX) in the environment the module runs in, else etcd.ini's C(prefix) in
        C([etcd]) or else V(/ansible) applies."
      - "The binary's C(--prefix)."
    type: str
  user:
    description:
      - "etcd user name, when etcd has auth on (the password is never a flag: a command line shows in ps)."
      - "Unset, C(ETCDCTL_USER) in the environment the module runs in, else etcd.ini's C(username) in
        C([etcd]) or else this applies: none."
      - "The binary's C(--user)."
    type: str
  password_file:
    description:
      - "File whose first line is the etcd user's password (within its first 4 KiB; a regular file only; a
        warning if group or others may read or write it); beats the password in the environment or etcd.ini."
      - "Unset, this applies: none."
      - "The binary's C(--password-file)."
    type: path
  password:
    description:
      - "The etcd user's password (never a flag: give it here, in ETCDCTL_USER as NAME:PASSWORD, or in a
        --password-file)."
      - "Unset, C(ETCDCTL_PASSWORD) in the environment the module runs in, else etcd.ini's C(password) in
        C([etcd]) or else this applies: none."
    type: str
  cacert:
    description:
      - "CA certificate (PEM) that signed etcd's certificate, instead of the public roots."
      - "Unset, C(ETCDCTL_CACERT) in the environment the module runs in, else etcd.ini's C(ca_cert) in
        C([etcd]) or else this applies: public roots."
      - "The binary's C(--cacert)."
    type: path
  cert:
    description:
      - "Client certificate (PEM) for etcd's --client-cert-auth."
      - "Unset, C(ETCDCTL_CERT) in the environment the module runs in, else etcd.ini's C(client_cert) in
        C([etcd]) or else this applies: none."
      - "The binary's C(--cert)."
    type: path
  key:
    description:
      - "Private key (PEM) of the client certificate."
      - "Unset, C(ETCDCTL_KEY) in the environment the module runs in, else etcd.ini's C(client_key) in
        C([etcd]) or else this applies: none."
      - "The binary's C(--key)."
    type: path
  dial_timeout:
    description:
      - "Time to connect to one member (TCP and TLS)."
      - "Unset, C(ETCDCTL_DIAL_TIMEOUT) in the environment the module runs in, else etcd.ini's
        C(dial_timeout) in C([etcd]) or else V(2s) applies."
      - "The binary's C(--dial-timeout)."
    type: str
  command_timeout:
    description:
      - "Time for each answer to start, and between its bytes; a stalled member passes the read to the next."
      - "Unset, C(ETCDCTL_COMMAND_TIMEOUT) in the environment the module runs in, else etcd.ini's
        C(command_timeout) in C([etcd]) or else V(5s) applies."
      - "The binary's C(--command-timeout)."
    type: str
  typed_values:
    description:
      - "Decode values that are JSON into booleans, numbers, lists and maps; import then quotes strings that
        would decode."
      - "Unset, C(ETCD_INVENTORY_TYPED_VALUES) in the environment the module runs in, else etcd.ini's
        C(typed_values) in C([etcd]) or else this applies: off."
      - "The binary's C(--typed-values)."
    type: bool
  nested_keys:
    description:
      - "Build nested maps from deeper keys such as hostvars/HOST/nginx/port (else they are skipped)."
      - "Unset, C(ETCD_INVENTORY_NESTED_KEYS) in the environment the module runs in, else etcd.ini's
        C(nested_keys) in C([etcd]) or else this applies: off."
      - "The binary's C(--nested-keys)."
    type: bool
  ini_path:
    description:
      - "Where etcd.ini is (a regular file of at most 1 MiB)."
      - "Unset, C(ETCD_INI_PATH) in the environment the module runs in, else this applies: `etcd.ini` beside
        the binary."
    type: path
  executable:
    description:
      - "The etcd-inventory binary to run: a path, or a name looked up on PATH."
      - "Unset, C(etcd-inventory) on PATH, else beside the Python that runs the module (where C(pip install
        etcd-inventory) puts it)."
    type: path
"""
