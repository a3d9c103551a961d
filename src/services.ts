/**
 * The HTTP implementations of the statechart's three actors: build the request, send it, parse the answer.
 *
 * @module
 */

import { fromPromise } from 'xstate';
import type { ClientRequest, DeviceAuthorizationRequest, DeviceTokenRequest, RefreshTokenRequest } from '../machines/types.js';
import { DeviceFlowError, isDeviceFlowError } from './errors.js';
import { type FetchFunction, postForm } from './http/postForm.js';
import { type DeviceAuthorization, parseDeviceAuthorizationResponse } from './protocol/deviceAuthorizationResponse.js';
import {
  authenticateClient,
  deviceAuthorizationParameters,
  deviceCodeGrantParameters,
  refreshGrantParameters,
  type Stage,
} from './protocol/requests.js';
import { parseResponseBody, type ResponseMembers } from './protocol/responseBody.js';
import { type PollOutcome, parsePollResponse, parseRefreshResponse, type TokenResponse } from './protocol/tokenResponse.js';
import { redactErrorMembers, redactSecrets } from './redact.js';

/** A request about to be sent, as the request modifier sees it: change the URL or the headers in place. */
export interface ModifiableRequest {
  url: URL;
  headers: Headers;
}

/**
 * Changes each request before it is sent, like Qt's `setNetworkRequestModifier`: add headers (DPoP, tracing), or
 * route through another URL. May be async.
 */
export type RequestModifier = (request: ModifiableRequest, stage: Stage) => void | Promise<void>;

/**
 * Changes the form parameters of each request, like Qt's `modifyParametersFunction`: add `resource`, a PKCE
 * `code_verifier`, or remove a parameter. Runs after client authentication was added. May be async.
 */
export type ParameterModifier = (stage: Stage, parameters: URLSearchParams) => void | Promise<void>;

/** How the actors talk HTTP. */
export interface TransportOptions {
  /** The `fetch` to use (mTLS, proxies, test doubles); the global `fetch` when absent. */
  fetch?: FetchFunction | undefined;
  /** The client secret; empty or absent for a public client. */
  clientSecret?: string | undefined;
  requestModifier?: RequestModifier | undefined;
  parameterModifier?: ParameterModifier | undefined;
  /** Milliseconds for a whole request, body included; 30 000 by default. */
  requestTimeout?: number | undefined;
  /** The largest response body accepted, in bytes; 1 MiB by default. */
  maxResponseBytes?: number | undefined;
}

/** Default of {@link TransportOptions.requestTimeout}. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Default of {@link TransportOptions.maxResponseBytes}. */
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

interface Exchange extends ClientRequest {
  stage: Stage;
  parameters: URLSearchParams;
  /** Secrets of this request besides the client secret, removed from any error the server's answer causes. */
  secrets: string[];
}

/**
 * The three actors of the device authorization machine, talking HTTP with `options`. Pass a function to have the
 * options read afresh for every request (the class does, so that its setters take effect at once).
 *
 * @example
 * ```ts
 * const machine = deviceAuthorizationChart.provide({ actors: createDeviceFlowActors({ fetch: myFetch }) });
 * ```
 */
export function createDeviceFlowActors(options: TransportOptions | (() => TransportOptions) = {}) {
  const current = typeof options === 'function' ? options : () => options;

  async function exchange<T>(request: Exchange, signal: AbortSignal, parse: (members: ResponseMembers, status: number) => T): Promise<T> {
    const settings = current();
    const clientSecret = settings.clientSecret ?? '';
    const headers = new Headers({ accept: 'application/json' });
    authenticateClient(request.clientAuthentication, { clientIdentifier: request.clientIdentifier, clientSecret }, request.parameters, headers);
    // The Basic credentials too: a server may echo the Authorization header.
    const basicCredentials = headers.get('authorization')?.replace(/^Basic /, '') ?? '';
    const secrets = [clientSecret, basicCredentials, ...request.secrets].filter((secret) => secret.length > 0);
    try {
      await settings.parameterModifier?.(request.stage, request.parameters);
      const modifiable: ModifiableRequest = { url: new URL(request.url), headers };
      await settings.requestModifier?.(modifiable, request.stage);
      const response = await postForm(
        { url: modifiable.url.href, headers: modifiable.headers, body: request.parameters },
        {
          fetch: settings.fetch,
          signal,
          timeout: settings.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS,
          maxResponseBytes: settings.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
        },
      );
      const members = parseResponseBody(response.body, response.headers.get('content-type'), response.status);
      return parse(redactErrorMembers(members, secrets), response.status);
    } catch (error) {
      if (signal.aborted) throw error;
      throw redactSecrets(isDeviceFlowError(error) ? error : unexpected(error), secrets);
    }
  }

  return {
    /** @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1) */
    requestDeviceAuthorization: fromPromise<DeviceAuthorization, DeviceAuthorizationRequest>(({ input, signal }) =>
      exchange(
        { ...input, stage: 'RequestingAuthorization', parameters: deviceAuthorizationParameters(input), secrets: [] },
        signal,
        parseDeviceAuthorizationResponse,
      ),
    ),
    /** @see [RFC 8628 §3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4) */
    pollToken: fromPromise<PollOutcome, DeviceTokenRequest>(({ input, signal }) =>
      exchange(
        { ...input, stage: 'RequestingAccessToken', parameters: deviceCodeGrantParameters(input), secrets: [input.deviceCode] },
        signal,
        (members, status) => parsePollResponse(members, input, status),
      ),
    ),
    /** @see [RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6) */
    refreshTokens: fromPromise<TokenResponse, RefreshTokenRequest>(({ input, signal }) =>
      exchange(
        { ...input, stage: 'RefreshingAccessToken', parameters: refreshGrantParameters(input), secrets: [input.refreshToken] },
        signal,
        (members, status) => parseRefreshResponse(members, input, status),
      ),
    ),
  };
}

/** The actors {@link createDeviceFlowActors} returns. */
export type DeviceFlowActors = ReturnType<typeof createDeviceFlowActors>;

// A modifier threw, or the endpoint URL does not parse: the application's side failed before anything was sent.
function unexpected(error: unknown): DeviceFlowError {
  return new DeviceFlowError('ClientError', `The request could not be prepared: ${error instanceof Error ? error.message : String(error)}`, {}, { cause: error });
}
