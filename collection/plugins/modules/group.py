#!/usr/bin/python
# Copyright: etcd-inventory developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: group
short_description: One group of the Ansible inventory in etcd, with its variables and children
version_added: 0.1.0
description:
  - Makes one group of the inventory that etcd-inventory reads from etcd what the options say, or absent.
    A group's own keys are its variables C(PREFIX/groupvars/GROUP/NAME) and its children C(PREFIX/groups/GROUP/CHILD);
    its hosts are the hosts' memberships, which M(etcd_inventory.etcd.host) writes.
  - Runs C(etcd-inventory apply) (the binary that C(pip install etcd-inventory) installs), which reads the keys,
    plans the change and writes it in one etcd transaction, guarded by the revisions the keys were read at
    (it plans again if someone changed them meanwhile). Values are written by the rules of C(etcd-inventory import).
  - Changed only when a key in etcd changed, so a second run with the same options reports ok.
    A key that already says what is asked is left as it is, whoever wrote it
    (an imported child keeps its place in the order of its parent's children).
  - Usually runs on the controller, with C(delegate_to=localhost) or C(connection=local), where the binary and the
    etcd credentials are.
author: etcd-inventory developers (!UNKNOWN)
extends_documentation_fragment:
  - etcd_inventory.etcd.settings.connection
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the keys and reports what would change; writes nothing.
  diff_mode:
    support: full
    details: The group's variables, children and hosts before and after.
  platform:
    platforms: posix
options:
  name:
    description:
      - The group's name; no C(/).
    type: str
    required: true
  state:
    description:
      - V(present) writes the group's keys as the other options say. A group that no key names yet, given no
        variables or children, gets the key C(groups/all/NAME), as C(etcd-inventory import) gives an empty group.
      - V(absent) deletes every key that names the group and nothing else. That is its variables, its children keys, the
        keys that make it a child (C(groups/*/NAME)) and its membership keys (C(hosts/NAME/*)). A host that was only
        in this group and has no variables leaves the inventory with it.
      - V(all) and V(ungrouped) are always there and cannot be absent.
    type: str
    choices: [present, absent]
    default: present
  vars:
    description:
      - The group's variables. Afterwards exactly these (other variables are deleted), or with O(append=true) these
        set and its others kept.
      - Unset, its variables stay as they are.
      - Written as M(etcd_inventory.etcd.host) writes a host's (see its C(vars) option).
    type: dict
  children:
    description:
      - The group's child groups. Afterwards exactly these (other children keys are deleted), or with
        O(append=true) these besides its others. A child added follows those already there in the group's order,
        by name. A change that would make a loop among children is refused, and so is V(all) as a child.
      - Unset, its children stay as they are.
      - The children of V(all) are every group without a parent, and cannot be given.
    type: list
    elements: str
  append:
    description:
      - Add O(children) to the group's others, and set O(vars) keeping its other variables, instead of replacing them.
    type: bool
    default: false
notes:
  - Module arguments reach a module decrypted, so a value given as an Ansible vault value (C(!vault)) would be
    stored in plain text. Give the vault ciphertext as text instead.
  - All the group's keys change in one transaction, at most 128 of them with etcd's default C(--max-txn-ops).
seealso:
  - module: etcd_inventory.etcd.host
"""

EXAMPLES = r"""
- name: The web servers' settings
  etcd_inventory.etcd.group:
    name: web
    vars:
      http_port: 8080
      ntp_server: ntp.example.com
  delegate_to: localhost

- name: Production holds web and db, and nothing else
  etcd_inventory.etcd.group:
    name: prod
    children: [web, db]
  delegate_to: localhost

- name: One more variable for every host, keeping the others
  etcd_inventory.etcd.group:
    name: all
    vars:
      ansible_user: deploy
    append: true
  delegate_to: localhost

- name: Retire the canary group
  etcd_inventory.etcd.group:
    name: canary
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
before:
  description:
    - The group as it was. C(state) is V(present) or V(absent); a present group has C(vars) (as a playbook sees
      them with the module's value settings), C(children) and C(hosts) (those of its own keys, sorted).
  returned: always
  type: dict
  sample: {"state": "present", "vars": {}, "children": ["web"], "hosts": []}
after:
  description:
    - The group as it is now, in the form of RV(before); in check mode, as it would be.
  returned: always
  type: dict
  sample: {"state": "present", "vars": {}, "children": ["db", "web"], "hosts": []}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.etcd_inventory.etcd.plugins.module_utils.apply import apply, connection_argument_spec


def main():
    spec = {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "vars": {"type": "dict"},
        "children": {"type": "list", "elements": "str"},
        "append": {"type": "bool", "default": False},
    }
    spec.update(connection_argument_spec())
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    request = {"kind": "group", "name": module.params["name"], "state": module.params["state"]}
    request["append"] = module.params["append"]
    for option in ("vars", "children"):
        if module.params[option] is not None:
            request[option] = module.params[option]
    apply(module, request)


if __name__ == "__main__":
    main()
