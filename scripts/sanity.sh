#!/usr/bin/env bash
# `ansible-test sanity` on the collection (scripts/test.sh runs it), with the ansible-core of
# .venv: every test ansible-test has (pylint, pep8, validate-modules, ansible-doc, yamllint...),
# each in a venv of its own that ansible-test makes and fills from the package index.
#
# ansible-test wants the collection under ansible_collections/NAMESPACE/NAME: it gets a copy
# there. Its venvs live under .ansible-test/, its HOME here. It bootstraps pip in them with a
# get-pip.py downloaded from ci-files.testing.ansible.com, a host outside the package
# registries CI can reach; a stand-in in its cache runs Python's own ensurepip instead (pip
# then installs every requirement from the package index as usual).
set -euo pipefail
cd "$(dirname "$0")/.."
home="$PWD/.ansible-test"
ansible_test="$PWD/.venv/bin/ansible-test"
mkdir -p "$home/.ansible/test/cache"
# The pip version ansible-test pins (get_venv_packages: pip='24.2'), which names its cache file.
requirements=$("$PWD/.venv/bin/python" -c 'import ansible_test._internal.python_requirements as r; print(r.__file__)')
pip_version=$(sed -n "s/^ *pip='\([0-9.]*\)',\{0,1\}$/\1/p" "$requirements" | head -1)
[ -n "$pip_version" ] || { echo "sanity.sh: cannot find ansible-test's pip version in $requirements" >&2; exit 1; }
cat >"$home/.ansible/test/cache/get_pip_${pip_version//./_}.py" <<'PY'
# Stands in for get-pip.py (see scripts/sanity.sh): the pip bundled with Python.
import ensurepip

ensurepip.bootstrap(upgrade=True)
PY
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
copy="$work/ansible_collections/etcd_inventory/etcd"
mkdir -p "$(dirname "$copy")"
cp -r collection "$copy"
cd "$copy"
HOME="$home" "$ansible_test" sanity --local --python 3.11 --color no
