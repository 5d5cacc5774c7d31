#!/usr/bin/env node
// An Ansible inventory script in Node: the etcd-inventory component, transpiled by jco
// (`npm ci && npm run transpile`), called through its typed interface.
//
//   inventory.mjs --list         the whole inventory (listInventory)
//   inventory.mjs --host NAME    one host's variables (hostVars)
//   inventory.mjs --data         a summary of the inventory as data (readInventory)
//
// Settings come from the environment variables the etcd-inventory binary reads (no flags,
// no etcd.ini, no cache, no TLS files). The component is read from
// $ETCD_INVENTORY_JCO_OUT/etcd_inventory.js, by default out/ beside this script.
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const env = process.env;

function fail(message) {
  process.stderr.write(`etcd-inventory: ${String(message).replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(1);
}

// One setting: its variable's value parsed by `parse` (undefined when invalid), or `fallback`.
function setting(name, fallback, parse, expected) {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const value = parse(raw.trim());
  if (value === undefined) fail(`invalid value ${JSON.stringify(raw)} from environment variable ${name}: ${expected}`);
  return value;
}
const count = (text) => (/^\d+$/.test(text) && +text >= 1 && +text < 2 ** 32 ? +text : undefined);
const bool = (text) => (/^(1|yes|true|on)$/i.test(text) ? true : /^(0|no|false|off)$/i.test(text) ? false : undefined);
// A duration as etcdctl writes them (500ms, 2s, 1.5s, 1m); a bare number is seconds.
function millis(text) {
  const [, number, unit = 's'] = text.match(/^(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h)?$/) ?? [];
  const ms = Math.round(number * { ms: 1, s: 1e3, m: 6e4, h: 36e5 }[unit]);
  return number !== undefined && ms >= 1 && ms < 2 ** 32 ? ms : undefined;
}

// ETCDCTL_USER is `name` or `name:password`, as etcdctl's --user.
function credentials() {
  const user = env.ETCDCTL_USER;
  if (user === undefined) {
    if (env.ETCDCTL_PASSWORD !== undefined) fail('ETCDCTL_PASSWORD is set but ETCDCTL_USER is not');
    return undefined;
  }
  const colon = user.indexOf(':');
  const password = colon < 0 ? env.ETCDCTL_PASSWORD : user.slice(colon + 1);
  if (password === undefined) fail(`no password for etcd user ${JSON.stringify(user)}: set ETCDCTL_PASSWORD`);
  return { user: colon < 0 ? user : user.slice(0, colon), password };
}

// Node's wasi:http has no TLS settings: rather than ignore a CA or client certificate, say so.
for (const name of ['ETCDCTL_CACERT', 'ETCDCTL_CERT', 'ETCDCTL_KEY']) {
  if (env[name] !== undefined) {
    fail(`${name} is set, but this script has no TLS settings: use the etcd-inventory binary`);
  }
}

const options = {
  endpoints: (env.ETCDCTL_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',').map((e) => e.trim()).filter(Boolean),
  prefix: env.ETCD_INVENTORY_PREFIX ?? '/ansible',
  pageSize: setting('ETCD_INVENTORY_PAGE_SIZE', 10000, count, 'expected a whole number, at least 1'),
  connectTimeoutMs: setting('ETCDCTL_DIAL_TIMEOUT', 2000, millis, 'expected a duration such as 500ms or 2s'),
  requestTimeoutMs: setting('ETCDCTL_COMMAND_TIMEOUT', 5000, millis, 'expected a duration such as 500ms or 5s'),
  credentials: credentials(),
  trustTemplates: setting('ETCD_INVENTORY_TRUST_TEMPLATES', false, bool, 'expected true or false'),
  typedValues: setting('ETCD_INVENTORY_TYPED_VALUES', false, bool, 'expected true or false'),
  nestedKeys: setting('ETCD_INVENTORY_NESTED_KEYS', false, bool, 'expected true or false'),
};

// The WIT `error` variant, as jco delivers it: a thrown ComponentError whose payload is
// `{ tag, val }`. The same sentences as the binary, in short.
function describe({ tag, val }) {
  const q = JSON.stringify;
  switch (tag) {
    case 'invalid-options':
      return val;
    case 'unreachable': {
      const each = val.map((f) => `${f.endpoint}: ${f.reason}`).join('; ');
      const where = val.length === 1 ? each : `any of ${val.length} endpoints: ${each}`;
      return `cannot reach etcd at ${where} (check that etcd runs there, or set ETCDCTL_ENDPOINTS)`;
    }
    case 'gateway':
      return `etcd at ${val.endpoint} answered HTTP ${val.status}: ${val.message}`;
    case 'malformed-response':
      return `etcd at ${val.endpoint} sent an invalid range response: ${val.reason}`;
    case 'auth-failed':
      return `etcd at ${val.endpoint} refused the password of user ${q(val.user)} (check ETCDCTL_PASSWORD)`;
    case 'auth-required':
      return `etcd at ${val} requires authentication and no user is set (set ETCDCTL_USER and ETCDCTL_PASSWORD)`;
    case 'permission-denied':
      return val.user === undefined
        ? `etcd denies reading the keys under ${val.keys} without a user (set ETCDCTL_USER)`
        : `etcd user ${q(val.user)} may not read the keys under ${val.keys}`;
    case 'children-cycle':
      return `group children form a loop: ${val.join(' -> ')}`;
    case 'all-as-child':
      return `group ${q(val)} names "all" as a child, but all contains every group`;
    case 'reserved-group-name':
      return `a group is named ${q(val)}, which Ansible's inventory format reserves`;
    case 'non-utf8-key':
      return `key ${q(val)} is not valid UTF-8`;
    case 'non-utf8-value':
      return `the value of key ${q(val)} is not valid UTF-8`;
    case 'nested-clash':
      return `key ${q(val.valueKey)} holds a value, but key ${q(val.mapKey)} needs it to be a map of nested variables`;
    default:
      return `${tag}: ${q(val)}`;
  }
}

// Calls an export; on success, warns about skipped keys and invalid variable names as the
// binary does.
function call(exported, ...args) {
  let answer;
  try {
    answer = exported(options, ...args);
  } catch (e) {
    fail(e.payload?.tag ? describe(e.payload) : e.message);
  }
  if (answer.skipped) {
    const { count: n, example } = answer.skipped;
    const dir = `${options.prefix.replace(/\/+$/, '')}/`;
    process.stderr.write(
      `etcd-inventory: warning: skipped ${n} key(s) under ${dir} that fit none of hostvars/HOST/VAR, ` +
        `groupvars/GROUP/VAR, hosts/GROUP/HOST, groups/PARENT/CHILD, e.g. ${example}\n`,
    );
  }
  if (answer.invalidNames) {
    const { count: n, example } = answer.invalidNames;
    const dir = `${options.prefix.replace(/\/+$/, '')}/`;
    process.stderr.write(
      `etcd-inventory: warning: ${n} variable(s) under ${dir} have names Ansible will refuse (ansible-core 2.19 ` +
        `deprecates them, 2.23 fails the inventory), e.g. ${example}: rename them to letters, digits and _, not ` +
        `starting with a digit\n`,
    );
  }
  return answer;
}

const [mode, host, ...rest] = process.argv.slice(2);
const known = mode === '--host' ? host !== undefined : (mode === '--list' || mode === '--data') && host === undefined;
if (!known || rest.length > 0) fail('usage: inventory.mjs --list | --host NAME | --data');

const out = env.ETCD_INVENTORY_JCO_OUT;
const dir = out ? pathToFileURL(`${resolve(out)}/`) : new URL('out/', import.meta.url);
const { inventory } = await import(new URL('etcd_inventory.js', dir)).catch((e) =>
  fail(`cannot load the transpiled component from ${fileURLToPath(dir)} (run npm run transpile): ${e.message}`),
);

if (mode === '--list') {
  process.stdout.write(`${call(inventory.listInventory).json}\n`);
} else if (mode === '--host') {
  process.stdout.write(`${call(inventory.hostVars, host).json}\n`);
} else {
  // The typed data: no JSON to parse (only variable values are JSON text).
  const data = call(inventory.readInventory);
  for (const group of data.groups) {
    const children = group.children.length ? `, children: ${group.children.join(' ')}` : '';
    const vars = group.vars.length ? `, vars: ${group.vars.map((v) => v.name).join(' ')}` : '';
    console.log(`${group.name}: ${group.hosts.length} host(s)${children}${vars}`);
  }
  console.log(`${data.hosts.length} host(s), ${data.keyCount} key(s) read at revision ${data.revision}`);
}
