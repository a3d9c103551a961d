/**
 * The `pollJitter` property of the class (docs/resilience.md, "No herd"): on by default, checked as every setting is,
 * and kept in snapshots; a snapshot saved before it existed resumes with the default.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLL_JITTER_MS } from '../../src/core/pollJitter.js';
import { OAuth2DeviceAuthorizationFlow } from '../../src/flow/oauth2DeviceAuthorizationFlow.js';
import { exactClock, seededRandom } from '../helpers/exactClock.js';
import { thrownBy } from '../helpers/expectError.js';
import { createTestFlow, deviceAuthorizationReply, nextSignal, pending } from '../helpers/flowHarness.js';
import { LoopbackServer } from '../helpers/loopbackServer.js';
import { T0 } from '../helpers/machineHarness.js';

let server: LoopbackServer;
beforeAll(async () => {
  server = await LoopbackServer.start();
  server.handle('/device', deviceAuthorizationReply({ interval: 5, expires_in: 600 }));
  server.handle('/token', pending);
});
afterAll(() => server.close());

describe('pollJitter', () => {
  it('is 40 ms by default, and settable from 0 (off, as Qt) to 1000 ms', () => {
    const flow = new OAuth2DeviceAuthorizationFlow({ clock: exactClock(T0) });
    expect(flow.pollJitter).toBe(DEFAULT_POLL_JITTER_MS);
    flow.pollJitter = 0;
    expect(flow.pollJitter).toBe(0);
    flow.pollJitter = 1000;
    expect(flow.pollJitter).toBe(1000);
    flow.dispose();
  });

  it.each([-1, 1001, Number.NaN, Number.POSITIVE_INFINITY, '40', null])('refuses %s with ClientError', (value) => {
    expect(thrownBy(() => new OAuth2DeviceAuthorizationFlow({ pollJitter: value as never }))).toMatchObject({
      code: 'ClientError',
      message: 'Invalid setting: pollJitter must be a number of milliseconds from 0 to 1000',
    });
  });

  it('times the polls of the class: the interval after the answer, plus bound × draw of the clock’s random()', async () => {
    const clock = Object.assign(exactClock(T0), { random: seededRandom(3) });
    const expected = seededRandom(3);
    const { flow } = createTestFlow(server, { clock, pollJitter: 200 });
    flow.grant();
    await nextSignal(flow, 'authorizeWithUserCode');
    expect(flow.nextPollAt?.getTime()).toBe(T0 + 5_000 + Math.floor(200 * expected()));
    flow.dispose();
  });

  it('is kept in a snapshot; one saved before the setting existed resumes with the default', async () => {
    const { flow } = createTestFlow(server, { pollJitter: 7 });
    flow.grant();
    await nextSignal(flow, 'authorizeWithUserCode');
    const snapshot = flow.snapshot() as unknown as { state: { context: { properties: Record<string, unknown> } } };
    flow.dispose();
    expect(snapshot.state.context.properties.pollJitter).toBe(7);
    const resumed = new OAuth2DeviceAuthorizationFlow({ snapshot: JSON.stringify(snapshot), clock: exactClock(T0) });
    expect(resumed.pollJitter).toBe(7);
    resumed.dispose();
    delete snapshot.state.context.properties.pollJitter;
    const older = new OAuth2DeviceAuthorizationFlow({ snapshot: JSON.stringify(snapshot), clock: exactClock(T0) });
    expect(older.pollJitter).toBe(DEFAULT_POLL_JITTER_MS);
    expect(older.userCode).not.toBe('');
    older.dispose();
  });

  it('refuses a snapshot whose pollJitter does not fit', async () => {
    const { flow } = createTestFlow(server);
    const snapshot = flow.snapshot() as unknown as { state: { context: { properties: Record<string, unknown> } } };
    flow.dispose();
    snapshot.state.context.properties.pollJitter = 1e9;
    expect(thrownBy(() => new OAuth2DeviceAuthorizationFlow({ snapshot: JSON.stringify(snapshot) }))).toMatchObject({
      code: 'ClientError',
      message: expect.stringContaining('context.properties.pollJitter must be a number of milliseconds from 0 to 1000'),
    });
  });
});
