// Registers ts-loader.mjs (see there). Used as: node --import ./test/parity/ts-register.mjs FILE.ts
import { register } from 'node:module';

register('./ts-loader.mjs', import.meta.url);
