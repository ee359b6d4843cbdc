#!/usr/bin/env node
// The `difflab` command. A committed plain-JS launcher (so npm links it at install time, before
// the TypeScript is built) that loads the compiled program from dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('difflab: the CLI is not built yet; run `npm run build` in the repository root\n');
  process.exit(2);
}
await import(entry.href);
