#!/usr/bin/env node
// Build the N-API addon with the napi-rs CLI.
//   node scripts/build-native.mjs [--cuda] [--debug] [--prebuilt]
// --prebuilt strips the binary for the per-platform npm package.
// Output: native/node/sigvwap.<platform>.node and the generated TypeScript
// definitions native/node/binding.d.ts; the binary is also copied into the
// per-platform package folder npm/<platform>/ (the loader prefers that one),
// so the two can never disagree.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const napiArgs = [
  'napi', 'build', '--platform',
  '--manifest-path', 'native/node/Cargo.toml',
  '--package-json-path', 'package.json',
  '--output-dir', 'native/node',
  '--dts', 'binding.d.ts',
  '--no-js',
];
if (!args.has('--debug')) napiArgs.push('--release');
if (args.has('--cuda')) napiArgs.push('--features', 'cuda');
if (args.has('--prebuilt')) napiArgs.push('--strip');
execFileSync('npx', napiArgs, { cwd: root, stdio: 'inherit' });

for (const f of readdirSync(join(root, 'native/node'))) {
  const m = /^sigvwap\.(.+)\.node$/.exec(f);
  if (!m) continue;
  const dir = join(root, 'npm', m[1]);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  copyFileSync(join(root, 'native/node', f), join(dir, f));
  console.error(`build-native: ${f} -> npm/${m[1]}/`);
}
