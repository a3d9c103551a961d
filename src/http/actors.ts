/**
 * The HTTP implementations of the statechart's actors, and their options. The requests themselves (build the form,
 * send it, parse the answer) are in exchanges.ts, loaded by a flow's first request.
 *
 * @module
 */

import { type ActorSystem, fromPromise } from 'xstate';
import type { DeviceAuthorization } from '../core/protocol/deviceAuthorizationResponse.js';
import type { DpopSigner } from '../core/protocol/dpop.js';
import type { Stage } from '../core/protocol/requests.js';
import type { PollOutcome, TokenResponse } from '../core/protocol/tokenResponse.js';
import type { DeviceAuthorizationRequest, DeviceTokenRequest, IdTokenValidationRequest, RefreshTokenRequest, RevocationRequest } from '../machines/types.js';
import type { FlowHttpState, FlowRequest } from './exchanges.js';
import type { FetchFunction, PostOptions } from './sendRequest.js';

/** The system an actor runs in (XState's `ActorSystem` of any actors). */
type AnyActorSystem = ActorSystem<any>;

/**
 * A request about to be sent, as the request modifier sees it: change the URL or the headers in place.
 *
 * @see [RFC 6749 §2.3](https://www.rfc-editor.org/rfc/rfc6749#section-2.3): other client authentication, e.g. a signed header
 * @see [Qt's setNetworkRequestModifier](https://doc.qt.io/qt-6/qabstractoauth2.html#setNetworkRequestModifier)
 */
export interface ModifiableRequest {
  url: URL;
  headers: Headers;
}

/**
 * Changes each request before it is sent, like Qt's `setNetworkRequestModifier`: add headers (DPoP, tracing), or
 * route through another URL. May be async.
 *
 * @see [Qt's setNetworkRequestModifier](https://doc.qt.io/qt-6/qabstractoauth2.html#setNetworkRequestModifier)
 */
export type RequestModifier = (request: ModifiableRequest, stage: Stage) => void | Promise<void>;

/**
 * Changes the form parameters of each request, like Qt's `modifyParametersFunction`: add `resource`, a PKCE
 * `code_verifier`, or remove a parameter. Runs after client authentication was added. May be async.
 *
 * @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1) and [§3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4): the parameters it may change
 * @see [Qt's setModifyParametersFunction](https://doc.qt.io/qt-6/qabstractoauth.html#setModifyParametersFunction)
 */
export type ParameterModifier = (stage: Stage, parameters: URLSearchParams) => void | Promise<void>;

/**
 * How the actors talk HTTP: the `fetch`, the client secret, the modifiers, and the limits on each request.
 *
 * @see [RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1) for `clientSecret`
 * @see [The Fetch Standard's fetch()](https://fetch.spec.whatwg.org/#fetch-method) for `fetch`
 */
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
  /** The current time in epoch ms; the wall clock by default. Polls check it against the code's expiry. */
  now?: (() => number) | undefined;
  /**
   * Proves possession of a key on every token-endpoint request (RFC 9449): each poll and refresh carries a fresh
   * proof, with the server's latest nonce.
   */
  dpop?: DpopSigner | undefined;
}

/**
 * Default of {@link TransportOptions.requestTimeout}: 30 s. A poll that times out is a connection timeout, after which
 * polling backs off.
 *
 * @see [RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5)
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/**
 * Default of {@link TransportOptions.maxResponseBytes}: 1 MiB, far more than any device authorization or token
 * response needs, so that a broken or hostile server cannot make the client buffer without end.
 *
 * @see [RFC 8628 §3.2](https://www.rfc-editor.org/rfc/rfc8628#section-3.2)
 * @see [RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1)
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * Where the actors find their options: fixed ones, or a function called for every request with the actor system the
 * request belongs to (the class uses one machine for all its instances and keeps each instance's options by system).
 *
 * @see [XState actor systems](https://stately.ai/docs/system)
 */
export type TransportOptionsSource = TransportOptions | ((system: ActorSystem<any>) => TransportOptions);

/**
 * The three actors of the device authorization machine, talking HTTP with `options`. Pass a function to have the
 * options read afresh for every request (the class does, so that its setters take effect at once).
 *
 * @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1) for `requestDeviceAuthorization`
 * @see [RFC 8628 §3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4) for `pollToken`
 * @see [RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6) for `refreshTokens`
 * @see [XState promise actors](https://stately.ai/docs/promise-actors)
 * @example
 * ```ts
 * const machine = deviceAuthorizationChart.provide({ actors: createDeviceFlowActors({ fetch: myFetch }) });
 * ```
 */
export function createDeviceFlowActors(options: TransportOptionsSource = {}) {
  const current = typeof options === 'function' ? options : () => options;
  // By actor system: one per flow's actor, so flows that share this machine share none of it.
  const flows = new WeakMap<AnyActorSystem, FlowHttpState>();
  const stateOf = (system: AnyActorSystem) => {
    let state = flows.get(system);
    if (state === undefined) flows.set(system, (state = { dpopNonces: new Map(), keySets: null }));
    return state;
  };

  // Read when the actor starts, as before the request module is loaded.
  const flowRequest = (signal: AbortSignal, system: AnyActorSystem): FlowRequest => {
    const settings = current(system);
    return { settings, state: stateOf(system), post: postOptions(settings, signal) };
  };

  return {
    /** @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1) */
    requestDeviceAuthorization: fromPromise<DeviceAuthorization, DeviceAuthorizationRequest>(async ({ input, signal, system }) => {
      const flow = flowRequest(signal, system);
      return (await exchanges()).requestDeviceAuthorization(input, flow);
    }),
    /** @see [RFC 8628 §3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4) */
    pollToken: fromPromise<PollOutcome, DeviceTokenRequest>(async ({ input, signal, system }) => {
      const flow = flowRequest(signal, system);
      return (await exchanges()).pollToken(input, flow);
    }),
    /** @see [RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6) */
    refreshTokens: fromPromise<TokenResponse, RefreshTokenRequest>(async ({ input, signal, system }) => {
      const flow = flowRequest(signal, system);
      return (await exchanges()).refreshTokens(input, flow);
    }),
    /** @see [OpenID Connect Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation) */
    validateIdToken: fromPromise<Record<string, unknown>, IdTokenValidationRequest>(async ({ input, signal, system }) => {
      const post = postOptions(current(system), signal);
      // Loaded by the first ID token to validate: flows without an issuer do not carry it (nor jose, which it loads).
      const { KeySets, validateIdToken } = await import('./idTokenValidation.js');
      const state = stateOf(system);
      return validateIdToken(input, (state.keySets ??= new KeySets()), post);
    }),
    /**
     * The refresh token first (revoking it may revoke its access tokens too), then the access token; the first refusal
     * ends it.
     *
     * @see [RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1)
     */
    revokeTokens: fromPromise<void, RevocationRequest>(async ({ input, signal, system }) => {
      const flow = flowRequest(signal, system);
      return (await exchanges()).revokeTokens(input, flow);
    }),
  };
}

let loading: Promise<typeof import('./exchanges.js')> | undefined;

/**
 * The module that makes the requests, loaded by the first one: an application that only imports the statechart
 * starts without it (in a bundle, it is a chunk of its own).
 */
function exchanges(): Promise<typeof import('./exchanges.js')> {
  loading ??= import('./exchanges.js');
  return loading;
}

/** How the requests of a flow with `settings` are sent, aborted by the actor's `signal`. */
function postOptions(settings: TransportOptions, signal: AbortSignal): PostOptions & { signal: AbortSignal } {
  return {
    fetch: settings.fetch,
    signal,
    timeout: settings.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS,
    maxResponseBytes: settings.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  };
}

/**
 * The actors {@link createDeviceFlowActors} returns: `requestDeviceAuthorization`, `pollToken` and `refreshTokens`.
 *
 * @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1) for `requestDeviceAuthorization`
 * @see [RFC 8628 §3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4) for `pollToken`
 * @see [RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6) for `refreshTokens`
 */
export type DeviceFlowActors = ReturnType<typeof createDeviceFlowActors>;
