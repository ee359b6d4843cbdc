#!/usr/bin/env node
// Runs publint on every publishable package (packages/*, apps/cli) and fails on any error.
// Packages must be built first (`npm run build`): publint checks the files `exports` points at.
import { readdirSync, existsSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dirs = [
  ...readdirSync(join(root, 'packages')).map((d) => join(root, 'packages', d)),
  join(root, 'apps', 'cli'),
  ...(existsSync(join(root, 'examples')) ? readdirSync(join(root, 'examples')).map((d) => join(root, 'examples', d)) : []),
].filter((d) => existsSync(join(d, 'package.json')));

let errors = 0;
for (const dir of dirs) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (pkg.private) continue;
  const { messages } = await publint({ pkgDir: dir, level: 'suggestion', strict: false });
  const errs = messages.filter((m) => m.type === 'error');
  errors += errs.length;
  const status = errs.length ? 'FAIL' : 'ok  ';
  console.log(`${status} ${pkg.name}@${pkg.version}${messages.length ? ` (${messages.length} message${messages.length > 1 ? 's' : ''})` : ''}`);
  for (const m of messages) console.log(`     ${m.type}: ${formatMessage(m, pkg) ?? m.code}`);
}
if (errors) {
  console.error(`publint: ${errors} error(s)`);
  process.exit(1);
}
console.log(`publint: ${dirs.length} packages checked, no errors`);
