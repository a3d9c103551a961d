/**
 * Turns `login`'s choice of server (issuer, endpoints or provider) into the flow's options.
 *
 * @module
 */

import { isDeviceFlowError } from '../core/errors.js';
import type { DeviceFlowOptions } from '../flow/oauth2DeviceAuthorizationFlow.js';
import { printable } from '../core/printable.js';
import { isSecureEndpoint } from '../core/protocol/urls.js';
import { type DiscoveredServer, discover } from '../http/discovery.js';
import { type Command, insecureMessage } from './args.js';
import { EXIT_CODES, outcomeOf } from './exitCodes.js';
import type { CliIO } from './login.js';
import { PRESETS, presetEndpoints } from './presets.js';

/** The flow's options for `command`, or the exit code when the server cannot be found. */
export async function resolveServer(command: Extract<Command, { kind: 'login' }>, io: CliIO): Promise<DeviceFlowOptions | number> {
  const client: DeviceFlowOptions = {
    clientIdentifier: command.clientIdentifier,
    clientIdentifierSharedKey: command.clientSecret,
    allowInsecureHttp: command.allowInsecureHttp,
    ...(command.clientAuthentication === null ? {} : { clientAuthentication: command.clientAuthentication }),
    ...(command.scope === null ? {} : { requestedScopeTokens: command.scope }),
  };
  const { server } = command;
  switch (server.kind) {
    case 'endpoints':
      return { ...client, authorizationUrl: server.authorizationUrl, tokenUrl: server.tokenUrl };
    case 'provider': {
      const preset = PRESETS[server.provider];
      return {
        ...presetEndpoints(preset, server.tenant),
        clientAuthentication: preset.clientAuthentication,
        requestedScopeTokens: [...preset.defaultScope],
        ...client,
      };
    }
    case 'issuer':
      try {
        const discovered = await discoverIssuer(server.issuer, io.interrupt);
        const { authorizationUrl, tokenUrl, jwksUrl, revocationUrl } = discovered;
        const urls = [authorizationUrl, tokenUrl, jwksUrl, revocationUrl].filter((url) => url !== null);
        const plain = command.allowInsecureHttp ? undefined : urls.find((url) => !isSecureEndpoint(url, false));
        if (plain !== undefined) {
          io.stderr.write(`device-flow: ${insecureMessage('the discovered endpoint', plain)}\n`);
          return EXIT_CODES.usage;
        }
        // The issuer, its keys and algorithms too: with them the flow validates ID tokens, and can revoke.
        return { ...client, ...discovered };
      } catch (error) {
        if (io.interrupt.aborted) return EXIT_CODES.cancelled;
        io.stderr.write(`device-flow: ${printable(isDeviceFlowError(error) ? inCliTerms(error.message) : String(error))}\n`);
        return EXIT_CODES[outcomeOf(error)];
      }
  }
}

/**
 * `discover()` for the issuer the user typed. The command line's URL is normalised, which gives a bare origin a
 * trailing `/`; most issuers have none (Google, oidc-provider) and some have one (Auth0), and the metadata must name
 * the issuer exactly: so the form without it is tried first, then the one with it when the metadata names that one.
 * Plain http is allowed here and checked by the caller, whose refusal names the option that allows it.
 */
async function discoverIssuer(issuer: string, signal: AbortSignal): Promise<DiscoveredServer> {
  const options = { signal, allowInsecureHttp: true };
  if (new URL(issuer).pathname !== '/' || !issuer.endsWith('/')) return discover(issuer, options);
  try {
    return await discover(issuer.slice(0, -1), options);
  } catch (error) {
    if (isDeviceFlowError(error) && error.code === 'ServerError' && error.message.includes(`names the issuer ${JSON.stringify(issuer)},`)) return discover(issuer, options);
    throw error;
  }
}

/** The library's advice in terms of the command line. */
function inCliTerms(message: string): string {
  return message.replace(/: the server does not offer the device flow at this issuer; set authorizationUrl and tokenUrl if it does elsewhere$/, ': give --authorization-url and --token-url');
}
