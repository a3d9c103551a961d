/**
 * Turns `login`'s choice of server (issuer, endpoints or provider) into the flow's options.
 *
 * @module
 */

import { isDeviceFlowError } from '../core/errors.js';
import type { DeviceFlowOptions } from '../flow/oauth2DeviceAuthorizationFlow.js';
import { printable } from '../core/printable.js';
import { isSecureEndpoint } from '../core/protocol/urls.js';
import { type Command, insecureMessage } from './args.js';
import { discoverEndpoints } from './discovery.js';
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
        const { authorizationUrl, tokenUrl } = await discoverEndpoints(server.issuer, { signal: io.interrupt });
        const plain = command.allowInsecureHttp ? undefined : [authorizationUrl, tokenUrl].find((url) => !isSecureEndpoint(url, false));
        if (plain !== undefined) {
          io.stderr.write(`device-flow: ${insecureMessage('the discovered endpoint', plain)}\n`);
          return EXIT_CODES.usage;
        }
        return { ...client, authorizationUrl, tokenUrl };
      } catch (error) {
        if (io.interrupt.aborted) return EXIT_CODES.cancelled;
        io.stderr.write(`device-flow: ${printable(isDeviceFlowError(error) ? error.message : String(error))}\n`);
        return EXIT_CODES[outcomeOf(error)];
      }
  }
}
