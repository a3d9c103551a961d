import { exactClock } from './exactClock.js';
import { PROPERTY_NAMES } from '../../src/core/properties.js';
import type { DeviceFlowSignalName, DeviceFlowSignals } from '../../src/flow/delivery.js';
import { type DeviceFlowOptions, OAuth2DeviceAuthorizationFlow } from '../../src/flow/oauth2DeviceAuthorizationFlow.js';
import { LoopbackServer, type Reply } from './loopbackServer.js';
import { T0 } from './machineHarness.js';

/** Every signal of the class: Qt's own, and a `…Changed` one per property; the type test checks that none is missing. */
export const SIGNAL_NAMES = [
  'authorizeWithUserCode',
  'granted',
  'requestFailed',
  'serverReportedErrorOccurred',
  'accessTokenAboutToExpire',
  'transientError',
  'revoked',
  'saveFailed',
  ...PROPERTY_NAMES.map((name) => `${name}Changed` as const),
] as const satisfies readonly DeviceFlowSignalName[];

export type RecordedSignal = { [K in DeviceFlowSignalName]: { name: K; args: DeviceFlowSignals[K] } }[DeviceFlowSignalName];

/** Records every signal of `flow`, in order. */
export function recordSignals(flow: OAuth2DeviceAuthorizationFlow) {
  const signals: RecordedSignal[] = [];
  for (const name of SIGNAL_NAMES) flow.on(name, (...args: unknown[]) => signals.push({ name, args } as RecordedSignal));
  return {
    signals,
    names: () => signals.map((signal) => signal.name),
    /** The names recorded since the last call. */
    drain: () => signals.splice(0).map((signal) => signal.name),
    of<K extends DeviceFlowSignalName>(name: K): DeviceFlowSignals[K][] {
      return signals.filter((signal) => signal.name === name).map((signal) => signal.args as DeviceFlowSignals[K]);
    },
  };
}

/** Resolves with the arguments of the next `name` signal. */
export function nextSignal<K extends DeviceFlowSignalName>(flow: OAuth2DeviceAuthorizationFlow, name: K): Promise<DeviceFlowSignals[K]> {
  return new Promise((resolve) => {
    const off = flow.on(name, ((...args: DeviceFlowSignals[K]) => {
      off();
      resolve(args);
    }) as never);
  });
}

export const deviceAuthorizationReply = (overrides: Record<string, unknown> = {}): Reply => ({
  json: {
    device_code: 'device-code-secret',
    user_code: 'WDJB-MJHT',
    verification_uri: 'https://example.com/device',
    verification_uri_complete: 'https://example.com/device?user_code=WDJB-MJHT',
    expires_in: 1800,
    interval: 5,
    ...overrides,
  },
});

export const tokenReply = (overrides: Record<string, unknown> = {}): Reply => ({
  json: { access_token: 'access-token-1', token_type: 'Bearer', refresh_token: 'refresh-token-1', expires_in: 3600, ...overrides },
});

export const pending: Reply = { status: 400, json: { error: 'authorization_pending' } };

/** A flow against `server`'s `/device` and `/token`, on a simulated clock set to `at` ({@link T0} by default). */
export function createTestFlow(server: LoopbackServer, options: DeviceFlowOptions = {}, at = T0) {
  const clock = exactClock(at);
  const flow = new OAuth2DeviceAuthorizationFlow({
    authorizationUrl: server.url('/device'),
    tokenUrl: server.url('/token'),
    clientIdentifier: 'tv-app',
    clock,
    ...options,
  });
  return { flow, clock, recorder: recordSignals(flow) };
}
