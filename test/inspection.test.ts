import { exactClock } from './helpers/exactClock.js';
import { createActor, type InspectionEvent } from 'xstate';
import { describe, expect, it } from 'vitest';
import { deviceAuthorizationChart } from '../src/machines/deviceAuthorization.js';
import { createInspectionSanitizer, createInspectorSanitizers, sanitizeInspectionEvent } from '../src/core/inspection.js';
import { deferredFlowActors, flushPromises, sampleAuthorization, sampleTokens } from './helpers/deferredActors.js';

const secrets = ['device-code-secret', 'access-token-secret', 'refresh-token-secret', 'id-token-secret', 'manual-token-secret'];

describe('sanitizeInspectionEvent', () => {
  it('removes every secret from every inspection event of a whole flow, and keeps the rest', async () => {
    const raw: InspectionEvent[] = [];
    const doubles = deferredFlowActors();
    const clock = exactClock(0);
    const actor = createActor(deviceAuthorizationChart.provide({ actors: doubles.actors }), {
      clock,
      input: { authorizationUrl: 'https://as/device', tokenUrl: 'https://as/token', token: 'manual-token-secret', requestedScopeTokens: ['openid'] },
      inspect: (event) => raw.push(event),
    }).start();
    actor.send({ type: 'GRANT' });
    doubles.requestDeviceAuthorization.last.resolve(sampleAuthorization({ deviceCode: 'device-code-secret' }));
    await flushPromises();
    clock.increment(5_000);
    doubles.pollToken.last.resolve({
      kind: 'granted',
      tokens: sampleTokens({ accessToken: 'access-token-secret', refreshToken: 'refresh-token-secret', idToken: 'id-token-secret', grantedScopeTokens: ['openid'] }),
    });
    await flushPromises();
    actor.send({ type: 'UPDATE', settings: { refreshToken: 'refresh-token-secret' } });
    actor.stop();

    const describeAll = (events: unknown[]) => JSON.stringify(events, (_key, value) => (typeof value === 'object' && value && 'send' in value ? '[actor]' : value));
    const leaked = (text: string) => secrets.filter((secret) => text.includes(secret));
    const unsanitised = raw.map((event) => ({ ...event, actorRef: undefined, sourceRef: undefined, snapshot: (event as { snapshot?: unknown }).snapshot }));
    // The raw events do carry every secret: the check below means something.
    expect(leaked(describeAll(unsanitised))).toEqual(secrets);

    const sanitize = createInspectionSanitizer();
    const sanitised = raw.map((event) => sanitize(event));
    const text = JSON.stringify(sanitised);
    expect(leaked(text)).toEqual([]);
    expect(text).toContain('"userCode":"WDJB-MJHT"');
    expect(text).toContain('"type":"xstate.done.actor.pollToken"');
    expect(sanitised.find((event) => event.type === '@xstate.event')!.actorRef).toEqual({ id: expect.any(String), sessionId: expect.any(String) });
  });

  it('redacts the value of token change events and OAuth spellings in any object', () => {
    expect(sanitizeInspectionEvent({ type: 'tokenChanged', value: 'at-secret' })).toEqual({ type: 'tokenChanged', value: '[redacted]' });
    expect(sanitizeInspectionEvent({ type: 'userCodeChanged', value: 'WDJB' })).toEqual({ type: 'userCodeChanged', value: 'WDJB' });
    expect(sanitizeInspectionEvent({ a: [{ access_token: 'x', nested: { client_secret: 's', ok: 1 } }] })).toEqual({
      a: [{ access_token: '[redacted]', nested: { client_secret: '[redacted]', ok: 1 } }],
    });
  });

  it('copies instead of changing, and survives cycles', () => {
    const event: Record<string, unknown> = { context: { token: 'secret-token' } };
    event.self = event;
    const copy = sanitizeInspectionEvent(event);
    expect((event.context as { token: string }).token).toBe('secret-token');
    expect(copy.context).toEqual({ token: '[redacted]' });
    expect(copy.self).toBe(copy);
  });

  it('remembers the secrets it saw, to cut them out of later strings and errors', () => {
    const sanitize = createInspectionSanitizer();
    sanitize({ context: { token: 'remembered-token-1' } });
    expect(sanitize({ event: { type: 'xstate.error.actor.refreshTokens', error: new Error('server says remembered-token-1 is revoked') } })).toEqual({
      event: { type: 'xstate.error.actor.refreshTokens', error: { name: 'Error', message: 'server says [redacted] is revoked' } },
    });
    expect(sanitizeInspectionEvent({ message: 'remembered-token-1' })).toEqual({ message: 'remembered-token-1' });
  });

  it('gives @statelyai/inspect options that sanitise too', () => {
    const sanitizers = createInspectorSanitizers();
    expect(sanitizers.sanitizeContext({ deviceCode: 'd' })).toEqual({ deviceCode: '[redacted]' });
    expect(sanitizers.serialize({ snapshot: { input: { refreshToken: 'r' } } })).toEqual({ snapshot: { input: { refreshToken: '[redacted]' } } });
  });
});
