#!/usr/bin/env node
// An Ansible inventory script in Node: the etcd-inventory component, transpiled by jco
// (`npm ci && npm run transpile`), called through its typed interfaces.
//
//   inventory.mjs --list         the whole inventory (listInventory)
//   inventory.mjs --host NAME    one host's variables (hostVars)
//   inventory.mjs --data         a summary of the inventory as data (readInventory)
//
// Settings are the component's to resolve (its `settings` export): the flags and
// environment variables of the etcd-inventory binary, checked by the same code, so nothing
// is parsed here. No etcd.ini, no cache, no TLS files. The component is read from
// $ETCD_INVENTORY_JCO_OUT/etcd_inventory.js, by default out/ beside this script.
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const env = process.env;
const USAGE = 'usage: inventory.mjs --list | --host NAME | --data [FLAGS as etcd-inventory takes them]';

function fail(message) {
  process.stderr.write(`etcd-inventory: ${String(message).replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(1);
}

// Calls an export; on success, warns about skipped keys and invalid variable names as the
// binary does.
// An error is the WIT `error` variant, as jco delivers it: a thrown ComponentError whose
// payload is `{ tag, val }`; the component's `describe-error` words it as the binary does.
function call(options, exported, ...args) {
  let answer;
  try {
    answer = exported(options, ...args);
  } catch (e) {
    fail(e.payload?.tag ? inventory.describeError(e.payload) : e.message);
  }
  const dir = `${options.prefix.replace(/\/+$/, '')}/`;
  if (answer.skipped) {
    const { count: n, example } = answer.skipped;
    process.stderr.write(
      `etcd-inventory: warning: skipped ${n} key(s) under ${dir} that fit none of hostvars/HOST/VAR, ` +
        `groupvars/GROUP/VAR, hosts/GROUP/HOST, groups/PARENT/CHILD, e.g. ${example}\n`,
    );
  }
  if (answer.invalidNames) {
    const { count: n, example } = answer.invalidNames;
    process.stderr.write(
      `etcd-inventory: warning: ${n} variable(s) under ${dir} have names Ansible will refuse (ansible-core 2.19 ` +
        `deprecates them, 2.23 fails the inventory), e.g. ${example}: rename them to letters, digits and _, not ` +
        `starting with a digit\n`,
    );
  }
  return answer;
}

// `--data` is this script's own: the inventory read as `--list` reads it, as data.
const given = process.argv.slice(2);
const data = given[0] === '--data';
const args = data ? ['--list', ...given.slice(1)] : given;

const out = env.ETCD_INVENTORY_JCO_OUT;
const dir = out ? pathToFileURL(`${resolve(out)}/`) : new URL('out/', import.meta.url);
const { inventory, settings } = await import(new URL('etcd_inventory.js', dir)).catch((e) =>
  fail(`cannot load the transpiled component from ${fileURLToPath(dir)} (run npm run transpile): ${e.message}`),
);

let resolved;
try {
  resolved = settings.resolve(args, Object.entries(env), undefined);
} catch (e) {
  const { tag, val } = e.payload ?? {};
  if (tag === 'usage') fail(`${USAGE}: ${val}`);
  fail(tag === 'invalid' ? val : e.message);
}
const { options, mode } = resolved;

if (mode.tag === 'list' && data) {
  // The typed data: no JSON to parse (only variable values are JSON text).
  const inv = call(options, inventory.readInventory);
  for (const group of inv.groups) {
    const children = group.children.length ? `, children: ${group.children.join(' ')}` : '';
    const vars = group.vars.length ? `, vars: ${group.vars.map((v) => v.name).join(' ')}` : '';
    console.log(`${group.name}: ${group.hosts.length} host(s)${children}${vars}`);
  }
  console.log(`${inv.hosts.length} host(s), ${inv.keyCount} key(s) read at revision ${inv.revision}`);
} else if (mode.tag === 'list') {
  process.stdout.write(`${call(options, inventory.listInventory).json}\n`);
} else if (mode.tag === 'host' && !data) {
  process.stdout.write(`${call(options, inventory.hostVars, mode.val).json}\n`);
} else {
  fail(`${USAGE}: --graph is the etcd-inventory binary's`);
}
