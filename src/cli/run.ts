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
import { prepareLoginProfile } from './loginProfile.js';
import { PRESETS } from './presets.js';
import { resolveServer } from './resolveServer.js';
import { runServe } from './serve.js';
import { runLogout, runProfiles, runRefresh, runStatus, runToken } from './session.js';
import { terminalSafeStream } from './terminal.js';
import { tokenFileProblem } from './tokenFile.js';

const HELP = `device-flow: sign in with the OAuth 2.0 Device Authorization Grant (RFC 8628), and keep the session

Usage:
  device-flow [demo] [--interactive]       a whole login against a local authorization server
  device-flow login --issuer URL --client-id ID [options]
  device-flow login --authorization-url URL --token-url URL --client-id ID [options]
  device-flow login --provider github|google|microsoft|gitlab --client-id ID [options]
  device-flow token [--profile NAME] [--min-validity SECONDS]
                                           print a valid access token, and nothing else (refreshed when needed)
  device-flow status [--profile NAME] [--json]   the saved session: server, client, subject, lifetimes; never a token
  device-flow refresh [--profile NAME]     refresh the access token now
  device-flow logout [--profile NAME]      revoke the tokens at the server, and delete the profile
  device-flow profiles [--json]            the saved profiles
  device-flow serve [--port PORT] [options] a local authorization server to sign in against, until Ctrl-C
  device-flow providers                    the provider presets and their quirks

Login options:
  --client-secret SECRET   or the DEVICE_FLOW_CLIENT_SECRET environment variable (not visible in ps)
  --client-auth post|basic|none   how the secret is sent (default post)
  --tenant TENANT          Microsoft tenant (default organizations)
  --scope SCOPE            repeat or separate with spaces
  --allow-insecure-http    allow plain-http endpoints beyond this machine (loopback is always allowed)
  --profile NAME           save the session as profile NAME (default: default)
  --store keychain|file|none   where: the OS keychain, or a file only you can read under
                           $XDG_CONFIG_HOME/device-flow (default ~/.config); none saves nothing. By default the
                           DEVICE_FLOW_STORE environment variable, else the keychain when one answers, else a file

Token options:
  --min-validity SECONDS   refresh first unless the token stays valid that long (default 60)

Serve options:
  --port PORT              the port on 127.0.0.1 (default 8628; 0 picks a free one)
  --interval SECONDS       the polling interval to announce and enforce with slow_down (default none)
  --code-lifetime SECONDS  how long user codes live (default 600)
  --access-token-lifetime SECONDS   (default 3600)

Output options (demo and login):
  --json                   the result as JSON on stdout; human text on stderr (status and profiles take it too)
  --output FILE            write the full tokens to FILE, readable by you only
  --no-qr                  no QR code
  --timeout SECONDS        give up after SECONDS
  --inspect                stream the statechart to the Stately inspector (relay on 127.0.0.1)
  --open                   open the verification URL in your browser (not in an SSH session)
  --dpop                   bind the tokens to a key made for this run (DPoP, RFC 9449); --output, --json and the
                           profile keep the key

Exit codes: 0 granted, 1 server error, 2 usage (or a profile store that cannot be used), 3 configuration,
4 denied, 5 expired, 6 network, 7 granted but --output or the profile not written, 8 an optional package is
missing (npm install the package named), 9 a new sign-in is needed (run the login command named),
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

/** The scope a login with `--issuer` asks for when it saves a profile and `--scope` is not given. */
const PROFILE_SCOPE = ['openid', 'offline_access'] as const;

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
      // Before the server is asked anything: a store that cannot keep the session is found out first.
      const profile = await prepareLoginProfile(command, io, env);
      if (typeof profile === 'number') return profile;
      const resolved = await resolveServer(command, io);
      if (typeof resolved === 'number') return resolved;
      if (profile === null) return runLogin(resolved, command, io);
      // A profile is kept to be refreshed: from an OpenID Connect issuer it asks, unless told otherwise, for a refresh
      // token (offline_access) and for whom it signs in (openid).
      const scoped = command.scope === null && command.server.kind === 'issuer' ? { ...resolved, requestedScopeTokens: [...PROFILE_SCOPE] } : resolved;
      return runLogin(profile.withKeptSecret(scoped, io), command, io, undefined, profile);
    }
    case 'token':
      return runToken(command, io, env);
    case 'status':
      return runStatus(command, io, env);
    case 'refresh':
      return runRefresh(command, io, env);
    case 'logout':
      return runLogout(command, io, env);
    case 'profiles':
      return runProfiles(command, io, env);
  }
}

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}
