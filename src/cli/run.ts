/**
 * `device-flow`: parses the command line and runs the command.
 *
 * @module
 */

import { readFileSync } from 'node:fs';
import { parseCommand, UsageError } from './args.js';
import { MissingPackageError } from '../core/errors.js';
import { runDemo } from './demo.js';
import { EXIT_CODES } from './exitCodes.js';
import { type CliIO, runLogin } from './login.js';
import { PRESETS } from './presets.js';
import { resolveServer } from './resolveServer.js';
import { runServe } from './serve.js';
import { terminalSafeStream } from './terminal.js';
import { tokenFileProblem } from './tokenFile.js';

const HELP = `device-flow: sign in with the OAuth 2.0 Device Authorization Grant (RFC 8628)

Usage:
  device-flow [demo] [--interactive]       a whole login against a local authorization server
  device-flow login --issuer URL --client-id ID [options]
  device-flow login --authorization-url URL --token-url URL --client-id ID [options]
  device-flow login --provider github|google|microsoft|gitlab --client-id ID [options]
  device-flow serve [--port PORT] [options] a local authorization server to sign in against, until Ctrl-C
  device-flow providers                    the provider presets and their quirks

Login options:
  --client-secret SECRET   or the DEVICE_FLOW_CLIENT_SECRET environment variable (not visible in ps)
  --client-auth post|basic|none   how the secret is sent (default post)
  --tenant TENANT          Microsoft tenant (default organizations)
  --scope SCOPE            repeat or separate with spaces
  --allow-insecure-http    allow plain-http endpoints beyond this machine (loopback is always allowed)

Serve options:
  --port PORT              the port on 127.0.0.1 (default 8628; 0 picks a free one)
  --interval SECONDS       the polling interval to announce and enforce with slow_down (default none)
  --code-lifetime SECONDS  how long user codes live (default 600)
  --access-token-lifetime SECONDS   (default 3600)

Output options (demo and login):
  --json                   the result as JSON on stdout; human text on stderr
  --output FILE            write the full tokens to FILE, readable by you only
  --no-qr                  no QR code
  --timeout SECONDS        give up after SECONDS
  --inspect                stream the statechart to the Stately inspector (relay on 127.0.0.1)
  --open                   open the verification URL in your browser (not in an SSH session)
  --dpop                   bind the tokens to a key made for this run (DPoP, RFC 9449); --output and --json keep the key

Exit codes: 0 granted, 1 server error, 2 usage, 3 configuration, 4 denied, 5 expired, 6 network,
7 granted but --output not written, 8 an optional package is missing (npm install the package named),
124 timeout, 130 cancelled (Ctrl-C).
`;

/** Runs `device-flow` with `argv`; returns the exit code. */
export async function run(argv: readonly string[], given: CliIO, env: Record<string, string | undefined>): Promise<number> {
  // Every line passes one filter: whatever a server said cannot act on the terminal.
  const io: CliIO = { ...given, stdout: terminalSafeStream(given.stdout), stderr: terminalSafeStream(given.stderr) };
  try {
    return await runCommand(argv, io, env);
  } catch (error) {
    // An optional package is a fact about the install, not a bug: one line saying what to install, no stack.
    if (!(error instanceof MissingPackageError)) throw error;
    io.stderr.write(`device-flow: ${error.message}
`);
    return EXIT_CODES.missingPackage;
  }
}

async function runCommand(argv: readonly string[], io: CliIO, env: Record<string, string | undefined>): Promise<number> {
  let command;
  try {
    command = parseCommand(argv, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`device-flow: ${error.message}\n`);
    return EXIT_CODES.usage;
  }
  if ('output' in command && command.output !== null) {
    // Found out now, not after the user approved: the device code is single-use.
    const problem = await tokenFileProblem(command.output);
    if (problem !== null) {
      io.stderr.write(`device-flow: --output ${problem}\n`);
      return EXIT_CODES.usage;
    }
  }
  switch (command.kind) {
    case 'help':
      io.stdout.write(HELP);
      return 0;
    case 'version':
      io.stdout.write(`${version()}\n`);
      return 0;
    case 'providers':
      io.stdout.write(
        Object.entries(PRESETS)
          .map(([name, preset]) => `${name} (${preset.title})\n  ${preset.deviceAuthorizationUrl}\n  ${preset.tokenUrl}\n${preset.quirks.map((quirk) => `  - ${quirk}\n`).join('')}`)
          .join('\n'),
      );
      return 0;
    case 'demo':
      return runDemo(command, io);
    case 'serve':
      return runServe(command, io);
    case 'login': {
      const resolved = await resolveServer(command, io);
      if (typeof resolved === 'number') return resolved;
      return runLogin(resolved, command, io);
    }
  }
}

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}
