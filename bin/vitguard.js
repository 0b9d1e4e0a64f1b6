#!/usr/bin/env node
// The `vitguard` command. The CLI is TypeScript compiled to lib/ by `npm run build:ts` (run by `npm ci`).
import { main } from '../lib/sdk/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    console.error(`vitguard: ${err && err.code ? `[${err.code}] ` : ''}${err && err.message ? err.message : err}`);
    process.exitCode = 1;
  },
);
