#!/usr/bin/python
# Copyright: etcd-inventory developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: host
short_description: One host of the Ansible inventory in etcd, with its groups, variables and lease
version_added: 0.1.0
description:
  - Makes one host of the inventory that etcd-inventory reads from etcd what the options say, or absent.
    A host is its membership keys C(PREFIX/hosts/GROUP/HOST) and its variable keys C(PREFIX/hostvars/HOST/NAME).
  - Runs C(etcd-inventory apply) (the binary that C(pip install etcd-inventory) installs), which reads the host's keys,
    plans the change and writes it in one etcd transaction, guarded by the revisions the keys were read at
    (it plans again if someone changed them meanwhile). Values are written by the rules of C(etcd-inventory import).
  - Changed only when a key in etcd changed, so a second run with the same options reports ok.
    A key that already says what is asked is left as it is, whoever wrote it
    (an imported host keeps its place in its groups' order).
  - Usually runs on the controller, with C(delegate_to=localhost) or C(connection=local), where the binary and the
    etcd credentials are. It never connects to the host it names.
author: etcd-inventory developers (!UNKNOWN)
extends_documentation_fragment:
  - etcd_inventory.etcd.settings.connection
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the keys and reports what would change; writes nothing, grants or renews no lease.
  diff_mode:
    support: full
    details: The host's groups, variables and lease TTL before and after.
  platform:
    platforms: posix
options:
  name:
    description:
      - The host's inventory name (C(inventory_hostname)); no C(/).
    type: str
    required: true
  state:
    description:
      - V(present) writes the host's keys as the other options say.
      - V(absent) deletes the host's own keys, its memberships C(hosts/*/NAME) and variables C(hostvars/NAME/...),
        whoever wrote them, and nothing else (as C(etcd-inventory deregister) does).
    type: str
    choices: [present, absent]
    default: present
  groups:
    description:
      - The groups the host is a member of. Afterwards exactly these (memberships of other groups are deleted),
        or with O(append=true) these besides its others.
      - Unset, its groups stay as they are.
      - A host in no group is in C(ungrouped), as Ansible has it; a host needs a group or a variable to be there at all.
    type: list
    elements: str
  vars:
    description:
      - The host's variables. Afterwards exactly these (other variables are deleted), or with O(append=true) these
        set and its others kept.
      - Unset, its variables stay as they are.
      - Strings are stored as they are; other values as JSON text, which reads back as the same types with
        typed values on (O(typed_values)); maps become nested keys with O(nested_keys).
      - Text that starts with C($ANSIBLE_VAULT;) (the output of C(ansible-vault encrypt_string) without the
        C(!vault |) line) is stored as it is and read back as a vault value.
    type: dict
  append:
    description:
      - Add O(groups) to the host's other groups, and set O(vars) keeping its other variables,
        instead of replacing them.
    type: bool
    default: false
  ttl:
    description:
      - Seconds (1 to 9000000000) the host stays in the inventory. Every key of the host is put under one etcd
        lease of this TTL, and etcd deletes them all when it runs out.
      - A run that finds every key of the host under one lease of this TTL renews that lease and keeps it (keys
        it adds or changes go under it too), and reports ok when no key changed. Otherwise every key is put under
        a new lease.
      - Unset, the host's keys are under no lease and stay until deleted; keys that were leased are put again
        without one.
    type: int
notes:
  - Module arguments reach a module decrypted, so a value given as an Ansible vault value (C(!vault)) would be
    stored in plain text. Give the vault ciphertext as text instead (see O(vars)).
  - etcd grants at least its minimum TTL (2 s with default settings); with a shorter O(ttl) the lease never
    matches the option and every run reports changed.
  - A host that a running C(etcd-inventory register) keeps registered is best left to it. A change made here
    puts the host's keys under another lease, or none, and the registrar's lease then holds none of them.
  - All the host's keys change in one transaction, at most 128 of them with etcd's default C(--max-txn-ops).
  - The etcd user needs read and write access to C(hosts/) and C(hostvars/) under the prefix
    (see the README's registrar role).
seealso:
  - module: etcd_inventory.etcd.group
"""

EXAMPLES = r"""
- name: Put the new VM into the inventory, from the controller
  etcd_inventory.etcd.host:
    name: web-7
    groups: [web, eu]
    vars:
      ansible_host: 10.0.0.7
      http_port: 8080
    endpoints: https://etcd1.example.com:2379,https://etcd2.example.com:2379
    cacert: /etc/etcd-inventory/ca.pem
    user: provisioner
    password_file: /etc/etcd-inventory/provisioner.password
  delegate_to: localhost

- name: Add it to one more group, keeping its others (connection from ETCDCTL_ENDPOINTS and the like)
  etcd_inventory.etcd.host:
    name: web-7
    groups: [canary]
    append: true
  delegate_to: localhost

- name: A batch worker that leaves the inventory unless this runs again within the hour
  etcd_inventory.etcd.host:
    name: batch-3
    groups: [batch]
    ttl: 3600
  delegate_to: localhost

- name: Take the VM out of the inventory
  etcd_inventory.etcd.host:
    name: web-7
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
before:
  description:
    - The host as it was. C(state) is V(present) or V(absent); a present host has C(groups) (those it has a
      membership key of, sorted), C(vars) (as a playbook sees them with the module's value settings, strings
      plain and vault text as a vault value) and C(ttl) (the TTL its lease was granted when all its keys share one,
      else null).
  returned: always
  type: dict
  sample: {"state": "absent"}
after:
  description:
    - The host as it is now, in the form of RV(before); in check mode, as it would be.
  returned: always
  type: dict
  sample: {"state": "present", "groups": ["eu", "web"], "vars": {"ansible_host": "10.0.0.7"}, "ttl": null}
lease:
  description:
    - The etcd lease, in hex, that the host's keys are under afterwards; null without O(ttl), and in check mode
      when a new lease would be granted.
  returned: always
  type: str
  sample: 694da21c39897305
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.etcd_inventory.etcd.plugins.module_utils.apply import apply, connection_argument_spec


def main():
    spec = {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "groups": {"type": "list", "elements": "str"},
        "vars": {"type": "dict"},
        "append": {"type": "bool", "default": False},
        "ttl": {"type": "int"},
    }
    spec.update(connection_argument_spec())
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    request = {"kind": "host", "name": module.params["name"], "state": module.params["state"]}
    request["append"] = module.params["append"]
    for option in ("groups", "vars", "ttl"):
        if module.params[option] is not None:
            request[option] = module.params[option]
    apply(module, request)


if __name__ == "__main__":
    main()
