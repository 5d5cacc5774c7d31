# Copyright: etcd-inventory developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
name: etcd
short_description: Hosts, groups and variables kept in etcd v3
version_added: 0.1.0
description:
  - Reads an inventory kept in etcd v3 under a key prefix, in one consistent snapshot, through the
    C(etcd-inventory) binary (C(pip install etcd-inventory) puts it beside Ansible).
  - "The keys under the prefix: C(hostvars/HOST/VAR) = value (a host variable), C(groupvars/GROUP/VAR) = value
    (a group variable), C(hosts/GROUP/HOST) (a member), C(groups/PARENT/CHILD) (a child group)."
  - Hosts keep the order the binary lists them in, as the same inventory read as a script does.
  - Values are not trusted as templates unless O(trust_templates) is set; Vault ciphertexts stored as values
    become Ansible's encrypted values, decrypted where used.
  - The configuration file's name must end in C(etcd.yml) or C(etcd.yaml), for example C(inventory.etcd.yml).
  - Every option below but O(plugin), O(backend), O(executable) and the C(constructed) ones is a setting of the
    binary, with the same environment variable; unset, the binary reads it from etcd.ini (O(ini_path)) or applies
    its default, as it does as an inventory script.
extends_documentation_fragment:
  - constructed
  - etcd_inventory.etcd.settings
options:
  plugin:
    description: The name of this plugin; it marks the file as this plugin's configuration.
    required: true
    type: str
    choices: [etcd_inventory.etcd.etcd]
  backend:
    description:
      - How the inventory is read from etcd.
      - V(binary) runs the C(etcd-inventory) binary (O(executable)).
      - V(wasm) runs the etcd-inventory WebAssembly component inside Ansible's own process, through the Python
        package C(etcd-inventory-wasm) (wasmtime-py), so no native binary is needed. It reads etcd's JSON
        gateway only, with wasmtime's HTTP client (public CAs, no client certificate), so O(transport=grpc) and
        the TLS files O(cacert), O(cert) and O(key) are refused with an error naming the setting, and an unset
        O(transport) means the gateway. O(cache_enabled) is not used (every run reads etcd), and etcd.ini is read
        only from O(ini_path). Its memory and time are bounded by O(memory_limit) and O(time_limit), as the
        binary's are. The compiled component is cached in C(~/.cache/etcd-inventory-wasm) (or under
        E(XDG_CACHE_HOME)).
      - V(auto) uses the binary when it is found (or O(executable) is set), else V(wasm) when the package is
        installed.
    type: str
    choices: [auto, binary, wasm]
    default: auto
    env:
      - name: ETCD_INVENTORY_BACKEND
  executable:
    description:
      - The C(etcd-inventory) binary to run.
      - Unset, C(etcd-inventory) on E(PATH), else the one beside Ansible's Python (a virtual environment's C(bin)).
    type: path
    env:
      - name: ETCD_INVENTORY_EXECUTABLE
notes:
  - The binary's warnings (skipped keys, for example) are shown as Ansible warnings.
  - A missing binary, a failed read of etcd and a bad option each fail this inventory source with one line.
  - The password is passed to the binary in its environment, never on its command line; keep it out of the
    configuration file (use E(ETCDCTL_PASSWORD), O(password_file) or an Ansible Vault encrypted value).
"""

EXAMPLES = r"""
# inventory.etcd.yml: the inventory under /ansible on a local etcd
plugin: etcd_inventory.etcd.etcd
endpoints: http://127.0.0.1:2379
prefix: /ansible

# prod.etcd.yml: TLS, a user whose password is in ETCDCTL_PASSWORD, groups made from variables
plugin: etcd_inventory.etcd.etcd
endpoints: https://etcd1.example.com:2379,https://etcd2.example.com:2379
cacert: /etc/etcd/ca.pem
user: ansible-reader
prefix: /prod
typed_values: true
keyed_groups:
  - key: datacenter
    prefix: dc
groups:
  big_memory: memory_mb | int >= 65536
compose:
  ansible_host: address
"""

import json

from ansible.errors import AnsibleParserError
from ansible.inventory.helpers import get_group_vars
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible.utils.vars import combine_vars

from ansible_collections.etcd_inventory.etcd.plugins.module_utils.binary import (
    BinaryError,
    find_binary,
    run,
    settings_environment,
)
from ansible_collections.etcd_inventory.etcd.plugins.module_utils.settings import SETTINGS
from ansible_collections.etcd_inventory.etcd.plugins.module_utils import wasm

try:  # ansible-core 2.19 and later: strings are data unless tagged as trusted templates.
    from ansible.parsing.vault import EncryptedString
    from ansible.template import trust_as_template

    def _vaulted(ciphertext, loader):
        return EncryptedString(ciphertext=ciphertext)

    def _trusted(text):
        return trust_as_template(text)

    def _untrusted(text):
        return text

except ImportError:  # ansible-core 2.16 to 2.18: strings are templates unless wrapped as unsafe.
    from ansible.parsing.yaml.objects import AnsibleVaultEncryptedUnicode
    from ansible.utils.unsafe_proxy import AnsibleUnsafeText

    def _vaulted(ciphertext, loader):
        value = AnsibleVaultEncryptedUnicode(ciphertext)
        value.vault = loader._vault  # the secrets given to this run (--vault-id, --ask-vault-pass)
        return value

    def _trusted(text):
        return text

    def _untrusted(text):
        return AnsibleUnsafeText(text)


# How the binary marks a Vault ciphertext: the one marker it emits with --trust-templates.
VAULT_MARKER = "__ansible_vault"


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "etcd_inventory.etcd.etcd"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("etcd.yml", "etcd.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            output, warnings = self._listing(self._binary_options(refresh=not cache))
        except BinaryError as e:
            raise AnsibleParserError(str(e)) from None
        for warning in warnings:
            self.display.warning(f"etcd-inventory: {warning}")
        try:
            listed = json.loads(output)
        except ValueError as e:
            raise AnsibleParserError(f"etcd-inventory printed no JSON inventory: {e}") from None
        self._value = self._value_maker(loader)
        try:
            self._populate(listed)
        except (AttributeError, TypeError) as e:  # a listing not shaped as the binary's
            raise AnsibleParserError(f"etcd-inventory printed an inventory of another shape: {e}") from None

    def _listing(self, options):
        """The `--list` JSON and the warnings, from the binary or the in-process component
        (O(backend)); everything else is the same for both."""
        backend = self.get_option("backend")
        if backend != "wasm":
            try:
                binary = find_binary(self.get_option("executable"))
            except BinaryError:
                if backend == "binary" or self.get_option("executable") or not wasm.available():
                    raise
            else:
                env, args = settings_environment(options)
                return run(binary, ["--list", *args], env)
        if options.get("cache_enabled"):
            self.display.warning("etcd-inventory: cache_enabled is the binary's: with backend wasm every run reads etcd")
        return wasm.list_inventory(options)

    def _binary_options(self, refresh):
        """The binary's settings from this source's options. The binary always emits plain
        strings (no unsafe markers): whether they are trusted is this plugin's to apply."""
        options = {setting[0]: self.get_option(setting[0]) for setting in SETTINGS}
        if options.get("password") is not None:
            options["password"] = str(options["password"])  # a Vault-encrypted option decrypts here
        options["trust_templates"] = True
        if refresh:  # ansible --flush-cache
            options["refresh_cache"] = True
        return options

    def _value_maker(self, loader):
        """A function turning one value of the listing into Ansible's: strings trusted or not
        as O(trust_templates) says, Vault markers into encrypted values, containers walked."""
        string = _trusted if self.get_option("trust_templates") else _untrusted

        def value(item):
            if isinstance(item, str):
                return string(item)
            if isinstance(item, dict):
                if len(item) == 1 and VAULT_MARKER in item:
                    return _vaulted(item[VAULT_MARKER], loader)
                return {key: value(inner) for key, inner in item.items()}
            if isinstance(item, list):
                return [value(inner) for inner in item]
            return item

        return value

    def _populate(self, listed):
        """Adds the listing's groups, hosts (in the listing's order), children and variables,
        as Ansible's script plugin would add the same listing, then the constructed groups."""
        if not isinstance(listed, dict) or not isinstance(listed.get("_meta", {}).get("hostvars"), dict):
            raise AnsibleParserError("etcd-inventory printed JSON without _meta.hostvars: check the executable option")
        value = self._value
        # ansible-core 2.19 hands plugins the inventory behind a proxy (a wrapt ObjectProxy)
        # that walks every value again to tag its origin: about a fifth of the CPU time of
        # `ansible-playbook --list-hosts` at 10,000 hosts. The values here are already what
        # Ansible needs (JSON types, trust and vault applied), so they go to the inventory.
        inventory = getattr(self.inventory, "__wrapped__", self.inventory)
        hosts = {}
        for name, group in listed.items():
            if name == "_meta":
                continue
            name = inventory.add_group(name)
            for host in group.get("hosts", ()):
                hosts[host] = None
                inventory.add_host(host, name)
            for var, item in group.get("vars", {}).items():
                inventory.set_variable(name, var, value(item))
            for child in group.get("children", ()):
                inventory.add_child(name, inventory.add_group(child))
        hostvars = listed["_meta"]["hostvars"]
        for host in hosts:
            for var, item in hostvars.get(host, {}).items():
                inventory.set_variable(host, var, value(item))
        if any(self.get_option(option) for option in ("compose", "groups", "keyed_groups")):
            self._construct(hosts)

    def _construct(self, hosts):
        """`compose`, `groups` and `keyed_groups` over each host's variables, its groups'
        included (as the constructed plugin sees them)."""
        strict = self.get_option("strict")
        for name in hosts:
            host = self.inventory.get_host(name)
            variables = combine_vars(get_group_vars(host.get_groups()), host.get_vars())
            self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), variables, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name, strict=strict)
