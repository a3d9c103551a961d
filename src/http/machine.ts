/**
 * The statechart with the package's HTTP actors: ready for `createActor`, or shared by many flows.
 *
 * @module
 */

import type { ActorSystem, AnyActorRef } from 'xstate';
import { deviceAuthorizationChart, type DeviceAuthorizationMachine } from '../machines/deviceAuthorization.js';
import { createDeviceFlowActors, type TransportOptions, type TransportOptionsSource } from './actors.js';

/**
 * The device authorization statechart with HTTP actors that use `options` (the global `fetch` and a public client by
 * default).
 *
 * @example
 * ```ts
 * const actor = createActor(createDeviceAuthorizationMachine({ clientSecret }), {
 *   input: { authorizationUrl, tokenUrl, clientIdentifier: 'my-tv-app', requestedScopeTokens: ['openid'] },
 * });
 * actor.on('authorizeWithUserCode', ({ verificationUrl, userCode }) => show(verificationUrl, userCode));
 * actor.on('granted', () => use(actor.getSnapshot().context.properties.token));
 * actor.start();
 * actor.send({ type: 'GRANT' });
 * ```
 * @see [RFC 8628 §3](https://www.rfc-editor.org/rfc/rfc8628#section-3)
 */
export function createDeviceAuthorizationMachine(options: TransportOptionsSource = {}): DeviceAuthorizationMachine {
  return deviceAuthorizationChart.provide({ actors: createDeviceFlowActors(options) });
}

/**
 * The device authorization statechart with HTTP actors using the global `fetch`, for a public client: what
 * {@link createDeviceAuthorizationMachine} returns without options.
 *
 * @see [RFC 8628 §3](https://www.rfc-editor.org/rfc/rfc8628#section-3)
 * @see [RFC 8628 §5.6](https://www.rfc-editor.org/rfc/rfc8628#section-5.6) for public (non-confidential) clients
 */
export const deviceAuthorizationMachine: DeviceAuthorizationMachine = /* @__PURE__ */ createDeviceAuthorizationMachine();

/** Each flow's transport options, found by the actor system its requests run in. */
const transports = new WeakMap<ActorSystem<any>, () => TransportOptions>();
let shared: DeviceAuthorizationMachine | undefined;

/**
 * One machine for many flows, each with its own transport options: building a machine is costly, and the machine
 * holds no flow's state. Register a flow's options with {@link useTransport} before its actor starts.
 *
 * @internal
 */
export function sharedDeviceAuthorizationMachine(): DeviceAuthorizationMachine {
  shared ??= createDeviceAuthorizationMachine((system) => transports.get(system)!());
  return shared;
}

/**
 * Has the requests of `actor` (an actor of {@link sharedDeviceAuthorizationMachine}) use `options`, read afresh for
 * each request.
 *
 * @internal
 */
export function useTransport(actor: AnyActorRef, options: () => TransportOptions): void {
  transports.set(actor.system, options);
}
