/**
 * SignalDelivery on its own: when the events of a step reach the listeners, in what order, what the properties read
 * inside a listener, and how values are shown.
 */
import { describe, expect, it } from 'vitest';
import { DeviceFlowError } from '../../src/core/errors.js';
import { initialProperties } from '../../src/core/properties.js';
import { type DeviceFlowSignals, SignalDelivery } from '../../src/flow/delivery.js';
import { SignalEmitter } from '../../src/flow/signals.js';

function delivery() {
  const signals = new SignalEmitter<DeviceFlowSignals>();
  const delivered: string[] = [];
  const target = new SignalDelivery(signals);
  target.begin(initialProperties());
  signals.on('userCodeChanged', (code) => delivered.push(`userCode ${code}`));
  signals.on('statusChanged', (status) => delivered.push(`status ${status}`));
  signals.on('granted', () => delivered.push('granted'));
  signals.on('requestFailed', (error) => delivered.push(`requestFailed ${error.code}`));
  return { signals, target, delivered };
}

describe('SignalDelivery', () => {
  it('delivers the events of a step when the outermost step returns, in order', () => {
    const { target, delivered } = delivery();
    target.step(() => {
      target.enqueue({ type: 'userCodeChanged', value: 'A' });
      target.step(() => target.enqueue({ type: 'statusChanged', value: 'TemporaryCredentialsReceived' }));
      expect(delivered).toEqual([]);
    });
    expect(delivered).toEqual(['userCode A', 'status TemporaryCredentialsReceived']);
  });

  it('delivers events that arrive outside any step on a microtask, once the actor is done with them', async () => {
    const { target, delivered } = delivery();
    target.enqueue({ type: 'granted' });
    expect(delivered).toEqual([]);
    await Promise.resolve();
    expect(delivered).toEqual(['granted']);
  });

  it("delivers the signals of a listener's own call after the ones already waiting", () => {
    const { signals, target, delivered } = delivery();
    signals.on('userCodeChanged', () => target.step(() => target.enqueue({ type: 'requestFailed', error: new DeviceFlowError('ClientError', 'x') })));
    target.step(() => {
      target.enqueue({ type: 'userCodeChanged', value: 'A' });
      target.enqueue({ type: 'statusChanged', value: 'TemporaryCredentialsReceived' });
    });
    expect(delivered).toEqual(['userCode A', 'status TemporaryCredentialsReceived', 'requestFailed ClientError']);
  });

  it('lets a listener read the properties as they were when its signal was emitted', () => {
    const { signals, target } = delivery();
    const seen: string[] = [];
    signals.on('userCodeChanged', () => seen.push(`${target.read('userCode')} while ${target.read('status')}`));
    target.step(() => {
      target.enqueue({ type: 'userCodeChanged', value: 'A' });
      target.enqueue({ type: 'statusChanged', value: 'TemporaryCredentialsReceived' });
    });
    expect(seen).toEqual(['A while NotAuthenticated']);
    expect(target.read('status')).toBe('TemporaryCredentialsReceived');
  });

  it('shows URLs as URL, times as Date, and lists and records as frozen copies', () => {
    const { signals, target } = delivery();
    const shown: unknown[] = [];
    signals.on('verificationUrlChanged', (url) => shown.push(url));
    signals.on('nextPollAtChanged', (at) => shown.push(at));
    target.step(() => {
      target.enqueue({ type: 'verificationUrlChanged', value: 'https://as.example/device' });
      target.enqueue({ type: 'nextPollAtChanged', value: 1_000 });
      target.enqueue({ type: 'grantedScopeTokensChanged', value: ['read'] });
      target.enqueue({ type: 'extraTokensChanged', value: { message: 'hi' } });
    });
    expect(shown).toEqual([new URL('https://as.example/device'), new Date(1_000)]);
    expect(Object.isFrozen(target.read('grantedScopeTokens'))).toBe(true);
    expect(target.read('extraTokens')).toEqual({ message: 'hi' });
    expect(Object.isFrozen(target.read('extraTokens'))).toBe(true);
  });

  it('shows records frozen all the way down, as copies: what the application reads cannot reach the context', () => {
    const { target } = delivery();
    const claims = { sub: 'alice', aud: ['tv-app', 'api'], address: { country: 'NZ' } };
    target.step(() => target.enqueue({ type: 'idTokenClaimsChanged', value: claims }));
    const shown = target.read('idTokenClaims')!;
    expect(shown).toEqual(claims);
    expect(Object.isFrozen(shown['aud'])).toBe(true);
    expect(Object.isFrozen(shown['address'])).toBe(true);
    expect(() => (shown['aud'] as string[]).push('evil')).toThrow(TypeError);
    expect(shown['aud']).not.toBe(claims.aud);
    expect(claims.aud).toEqual(['tv-app', 'api']);
  });

  it('forgets the events of a step that stopped half-way, and keeps those of one that completed', async () => {
    const { target, delivered } = delivery();
    const completed = {};
    target.enqueue({ type: 'userCodeChanged', value: 'A' });
    target.completed(completed);
    target.enqueue({ type: 'statusChanged', value: 'TemporaryCredentialsReceived' });
    // The actor still holds the context of the last completed step: the status change never happened.
    target.forgetUnfinished(completed);
    // A step that completed leaves another context: nothing is forgotten.
    target.forgetUnfinished({});
    await Promise.resolve();
    expect(delivered).toEqual(['userCode A']);
  });

  it('delivers nothing once cleared', async () => {
    const { target, delivered } = delivery();
    target.enqueue({ type: 'granted' });
    target.clear();
    await Promise.resolve();
    expect(delivered).toEqual([]);
  });
});
