/**
 * `device-flow serve`: the development authorization server, standing until Ctrl-C, for signing in from your own
 * application (or `device-flow login`) on this machine.
 *
 * @module
 */

import { once } from 'node:events';
import type { ServeOptions } from './args.js';
import { startDevServer } from '../devServer/server.js';
import { EXIT_CODES } from './exitCodes.js';
import type { CliIO } from './login.js';

/** Runs the server until `io.interrupt`; returns the exit code. */
export async function runServe(options: ServeOptions, io: CliIO): Promise<number> {
  let server;
  try {
    server = await startDevServer({
      port: options.port,
      deviceCodeLifetime: options.codeLifetime,
      accessTokenLifetime: options.accessTokenLifetime,
      ...(options.interval === null ? {} : { interval: options.interval }),
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    io.stderr.write(`device-flow: port ${options.port} of 127.0.0.1 is in use: choose another with --port PORT (0 picks a free one)\n`);
    return EXIT_CODES.usage;
  }
  const { issuer, clients } = server;
  io.stdout.write(
    [
      `An authorization server with the device flow (oidc-provider, in memory) is listening at ${issuer}`,
      '',
      `  Discovery             ${issuer}/.well-known/openid-configuration`,
      `  Device authorization  ${server.deviceAuthorizationUrl}`,
      `  Token                 ${server.tokenUrl}`,
      `  Key set (JWKS)        ${server.jwksUrl}`,
      `  Revocation            ${server.revocationUrl}`,
      `  Introspection         ${server.introspectionUrl}   (for confidential clients; DPoP is supported)`,
      `  Verification page     ${server.verificationUrl}   (any user name and password signs in)`,
      '',
      `Clients (the secrets are made up for this run and die with it):`,
      `  ${clients.public.clientIdentifier}   public, no secret`,
      `  ${clients.secretPost.clientIdentifier}   client_secret_post, secret ${clients.secretPost.clientSecret}`,
      `  ${clients.secretBasic.clientIdentifier}  client_secret_basic, secret ${clients.secretBasic.clientSecret}`,
      '',
      `Codes live ${options.codeLifetime} s, access tokens ${options.accessTokenLifetime} s; ${
        options.interval === null ? 'no polling interval is announced (clients wait 5 s) and any pace is taken' : `polls come every ${options.interval} s or get slow_down`
      }.`,
      '',
      'Sign in against it:',
      `  npx device-flow login --issuer ${issuer} --client-id ${clients.public.clientIdentifier} --scope "openid offline_access"`,
      '',
      'Ctrl-C stops the server.',
      '',
    ].join('\n'),
  );
  if (!io.interrupt.aborted) await once(io.interrupt, 'abort');
  await server.close();
  io.stderr.write('Stopped the authorization server.\n');
  return 0;
}
