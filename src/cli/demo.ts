/**
 * The default command: a whole device login against an authorization server started on 127.0.0.1 for the purpose,
 * approved by a simulated user (or, with `--interactive`, by you in a browser).
 *
 * @module
 */

import { setTimeout as delay } from 'node:timers/promises';
import type { OutputOptions } from './args.js';
import { startDevServer } from '../devServer/server.js';
import { type CliIO, runLogin } from './login.js';
import { actAsUser } from '../devServer/simulatedUser.js';

/** How long the simulated user takes to pick up the code, in milliseconds. */
export const SIMULATED_USER_DELAY_MS = 2_500;

/** Runs the demo; returns the exit code. */
export async function runDemo(options: OutputOptions & { interactive: boolean }, io: CliIO): Promise<number> {
  const server = await startDevServer();
  io.stderr.write(`Started a local authorization server (oidc-provider, in memory) at ${server.issuer}\n`);
  // The simulated user leaves when the login ends, whichever way: Ctrl-C, --timeout, or the code expiring.
  const loginOver = new AbortController();
  const pending: Promise<void>[] = [];
  try {
    return await runLogin(
      {
        authorizationUrl: server.deviceAuthorizationUrl,
        tokenUrl: server.tokenUrl,
        // With the issuer and its keys the ID token is validated, as a real client should, and can be revoked.
        issuer: server.issuer,
        jwksUrl: server.jwksUrl,
        revocationUrl: server.revocationUrl,
        clientIdentifier: server.clients.public.clientIdentifier,
        clientAuthentication: 'none',
        requestedScopeTokens: options.scope ?? ['openid', 'profile', 'offline_access'],
      },
      options,
      io,
      (prompt) => {
        if (options.interactive) {
          io.stderr.write('Approve in a browser on this machine; any user name and password will do.\n');
          return;
        }
        io.stderr.write(`A simulated user will approve in ${SIMULATED_USER_DELAY_MS / 1000} s (run with --interactive to do it yourself).\n`);
        pending.push(simulateUser(prompt.completeVerificationUrl ?? prompt.verificationUrl, prompt.userCode, io, loginOver.signal));
      },
    );
  } finally {
    loginOver.abort();
    await Promise.all(pending);
    await server.close();
  }
}

async function simulateUser(url: URL, userCode: string, io: CliIO, loginOver: AbortSignal): Promise<void> {
  const gone = AbortSignal.any([io.interrupt, loginOver]);
  const arrived = await delay(SIMULATED_USER_DELAY_MS, true, { signal: gone }).catch(() => false);
  if (!arrived) return;
  try {
    await actAsUser(url.href, userCode, { decision: 'approve', login: 'demo-user' });
    io.stderr.write('\nThe simulated user signed in as demo-user and approved on the server’s pages.\n');
  } catch (error) {
    io.stderr.write(`\nThe simulated user could not approve: ${(error as Error).message}\n`);
  }
}
