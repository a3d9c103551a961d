import { describe, expect, it } from 'vitest';
import { DeviceFlowError } from '../../src/core/errors.js';
import { sampleAuthorization } from '../helpers/deferredActors.js';
import { answer, defaultInput, fail, startMachine } from '../helpers/machineHarness.js';

const fault = (fields: ConstructorParameters<typeof DeviceFlowError>[2] = {}) => new DeviceFlowError('NetworkError', 'The request failed (ECONNRESET)', fields);

async function polling(input = defaultInput, authorization = sampleAuthorization({ interval: 5 })) {
  const flow = startMachine(input);
  flow.actor.send({ type: 'GRANT' });
  await answer(flow.requestDeviceAuthorization.last, authorization);
  flow.clock.increment(authorization.interval * 1000);
  return flow;
}

/** Fails the poll in flight with `error` and returns the wait the machine announced. */
async function faultAndWait(flow: Awaited<ReturnType<typeof polling>>, error = fault()): Promise<number> {
  await fail(flow.pollToken.last, error);
  const event = flow.ofType('transientError').at(-1)!;
  expect(flow.context().nextPollAt).toBe(flow.clock.now() + event.retryIn);
  return event.retryIn;
}

describe('transport faults while polling (RFC 8628 §3.5)', () => {
  it('back off, doubling from twice the interval up to a minute, and start over after a well-formed answer', async () => {
    const flow = await polling();
    const waits: number[] = [];
    for (let faults = 0; faults < 5; faults++) {
      waits.push(await faultAndWait(flow));
      flow.clock.increment(waits.at(-1)! - 1);
      expect(flow.pollToken.calls).toHaveLength(faults + 1);
      flow.clock.increment(1);
      expect(flow.pollToken.calls).toHaveLength(faults + 2);
    }
    expect(waits).toEqual([10_000, 20_000, 40_000, 60_000, 60_000]);
    expect(flow.ofType('requestFailed')).toHaveLength(0);
    expect(flow.context()).toMatchObject({ polling: true, consecutiveFailures: 5 });
    await answer(flow.pollToken.last, { kind: 'pending' });
    expect(flow.context()).toMatchObject({ consecutiveFailures: 0, nextPollAt: flow.clock.now() + 5_000 });
    flow.clock.increment(5_000);
    expect(await faultAndWait(flow)).toBe(10_000);
  });

  it('never waits less than a slowed-down interval', async () => {
    const flow = await polling();
    await answer(flow.pollToken.last, { kind: 'slowDown', interval: 70 });
    flow.clock.increment(70_000);
    expect(await faultAndWait(flow)).toBe(70_000);
  });

  it('honours Retry-After when it asks for longer', async () => {
    const flow = await polling();
    expect(await faultAndWait(flow, fault({ status: 503, retryAfter: 120 }))).toBe(120_000);
    flow.clock.increment(120_000);
    expect(await faultAndWait(flow, fault({ status: 429, retryAfter: 1 }))).toBe(20_000);
  });

  it('reports each fault with transientError, the error and the wait', async () => {
    const flow = await polling();
    const error = fault({ status: 502 });
    await fail(flow.pollToken.last, error);
    expect(flow.ofType('transientError')).toEqual([{ type: 'transientError', error, retryIn: 10_000 }]);
  });

  it('fails with NetworkError after maxConsecutiveFailures faults ridden out', async () => {
    const flow = await polling({ ...defaultInput, maxConsecutiveFailures: 2 });
    await faultAndWait(flow);
    flow.clock.increment(10_000);
    await faultAndWait(flow);
    flow.clock.increment(20_000);
    await fail(flow.pollToken.last, fault());
    expect(flow.ofType('transientError')).toHaveLength(2);
    expect(flow.ofType('requestFailed').map((event) => event.error.code)).toEqual(['NetworkError']);
    expect(flow.matches('failed.polling')).toBe(true);
  });

  it('stops at the first fault with maxConsecutiveFailures 0, as Qt does', async () => {
    const flow = await polling({ ...defaultInput, maxConsecutiveFailures: 0 });
    await fail(flow.pollToken.last, fault());
    expect(flow.ofType('transientError')).toHaveLength(0);
    expect(flow.ofType('requestFailed')[0]?.error.code).toBe('NetworkError');
  });

  it('fails with NetworkError, not ExpiredError, when the server stays unreachable until the code expires', async () => {
    const flow = await polling(defaultInput, sampleAuthorization({ interval: 5, expiresIn: 60 }));
    await faultAndWait(flow);
    flow.clock.increment(10_000);
    await faultAndWait(flow);
    flow.clock.increment(20_000);
    await faultAndWait(flow, fault({ status: 502 }));
    // The next try would be at 75 s, after the expiry at 60 s.
    flow.clock.increment(25_000);
    const [failure] = flow.ofType('requestFailed');
    expect(failure?.error).toMatchObject({ code: 'NetworkError', status: 502 });
    expect(failure?.error.message).toMatch(/^The user code expired while the authorization server could not be reached/);
    expect(flow.elapsed()).toBe(60_000);
    expect(flow.pollToken.calls).toHaveLength(3);
  });

  it('treats server OAuth errors as final, not as faults', async () => {
    const flow = await polling();
    await fail(flow.pollToken.last, new DeviceFlowError('ServerError', 'x', { error: 'access_denied' }));
    expect(flow.ofType('transientError')).toHaveLength(0);
    expect(flow.matches('failed.polling')).toBe(true);
  });

  it('fails the device authorization request at once on a fault: nobody waits on a code yet', async () => {
    const flow = startMachine();
    flow.actor.send({ type: 'GRANT' });
    await fail(flow.requestDeviceAuthorization.last, fault());
    expect(flow.ofType('requestFailed')[0]?.error.code).toBe('NetworkError');
    expect(flow.matches('failed.authorization')).toBe(true);
  });
});

describe('plain-HTTP endpoints', () => {
  const insecure = { ...defaultInput, authorizationUrl: 'http://as.example/device', tokenUrl: 'http://as.example/token' };

  it('are refused by grant(), which sends nothing and names the option', () => {
    const flow = startMachine(insecure);
    flow.actor.send({ type: 'GRANT' });
    const [failure] = flow.ofType('requestFailed');
    expect(failure?.error.code).toBe('ClientError');
    expect(failure?.error.message).toMatch(/http:\/\/as.example is not https.*allowInsecureHttp: true/);
    expect(flow.requestDeviceAuthorization.calls).toHaveLength(0);
  });

  it('are allowed on loopback hosts, or with allowInsecureHttp', () => {
    for (const input of [
      { ...defaultInput, authorizationUrl: 'http://127.0.0.1:8080/device', tokenUrl: 'http://localhost/token' },
      { ...defaultInput, authorizationUrl: 'http://[::1]/device', tokenUrl: 'http://127.1.2.3/token' },
      { ...insecure, allowInsecureHttp: true },
    ]) {
      const flow = startMachine(input);
      flow.actor.send({ type: 'GRANT' });
      expect(flow.requestDeviceAuthorization.calls).toHaveLength(1);
    }
  });

  it('are refused for refreshes and for polling too', async () => {
    const flow = startMachine({ ...defaultInput, refreshToken: 'rt' });
    flow.actor.send({ type: 'UPDATE', settings: { tokenUrl: 'http://as.example/token' } });
    flow.actor.send({ type: 'REFRESH' });
    expect(flow.refreshTokens.calls).toHaveLength(0);
    const polling = await (async () => {
      const running = startMachine();
      running.actor.send({ type: 'GRANT' });
      await answer(running.requestDeviceAuthorization.last, sampleAuthorization());
      return running;
    })();
    polling.actor.send({ type: 'UPDATE', settings: { tokenUrl: 'http://as.example/token' } });
    polling.clock.increment(5_000);
    expect(polling.pollToken.calls).toHaveLength(0);
    expect(polling.ofType('requestFailed')[0]?.error.message).toMatch(/token endpoint http:\/\/as.example is not https/);
    expect(flow.ofType('requestFailed')[0]?.error.message).toMatch(/allowInsecureHttp/);
  });
});
