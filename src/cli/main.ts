#!/usr/bin/env node
/**
 * The `device-flow` executable.
 *
 * @module
 */

import { run } from './run.js';

const interrupt = new AbortController();
process.once('SIGINT', () => interrupt.abort());

const code = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, interrupt: interrupt.signal }, process.env);

// Exit once the output is flushed, even if an inspector page is still connected to the relay: the login is over.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
