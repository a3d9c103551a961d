import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAuth2DeviceAuthorizationFlow } from '../../src/flow/oauth2DeviceAuthorizationFlow.js';
import { createTestFlow, deviceAuthorizationReply, nextSignal, pending, tokenReply } from '../helpers/flowHarness.js';
import { thrownBy } from '../helpers/expectError.js';
import { LoopbackServer } from '../helpers/loopbackServer.js';

let server: LoopbackServer;
beforeAll(async () => {
  server = await LoopbackServer.start();
});
afterAll(() => server.close());

async function polling(options = {}) {
  server.handle('/device', deviceAuthorizationReply());
  const harness = createTestFlow(server, options);
  harness.flow.grant();
  await nextSignal(harness.flow, 'authorizeWithUserCode');
  return harness;
}

describe('grant()', () => {
  it('fails synchronously with ClientError without an authorization URL, sending nothing', () => {
    const flow = new OAuth2DeviceAuthorizationFlow({ tokenUrl: server.url('/token') });
    const failures: string[] = [];
    flow.on('requestFailed', (error) => failures.push(`${error.code}: ${error.message}`));
    flow.grant();
    expect(failures).toEqual(['ClientError: No authorization URL set']);
    expect(flow.status).toBe('NotAuthenticated');
    flow.dispose();
  });

  it('reports a network failure of the authorization request as NetworkError', async () => {
    const gone = await LoopbackServer.start();
    const url = gone.url('/device');
    await gone.close();
    const flow = new OAuth2DeviceAuthorizationFlow({ authorizationUrl: url, tokenUrl: url });
    flow.grant();
    const [error] = await nextSignal(flow, 'requestFailed');
    expect(error.code).toBe('NetworkError');
    expect(flow.status).toBe('NotAuthenticated');
    flow.dispose();
  });

  it('reports an OAuth error of the authorization request, keeping NotAuthenticated and emitting no status change', async () => {
    server.queue('/device', { status: 400, json: { error: 'an-error', error_description: 'an-error-description', error_uri: 'https://as/an-error-uri' } });
    const { flow, recorder } = createTestFlow(server);
    flow.grant();
    await nextSignal(flow, 'requestFailed');
    expect(recorder.of('serverReportedErrorOccurred')).toEqual([['an-error', 'an-error-description', new URL('https://as/an-error-uri')]]);
    expect(recorder.of('requestFailed')[0]![0]).toMatchObject({ code: 'ServerError', error: 'an-error', status: 400 });
    expect(recorder.of('statusChanged')).toEqual([]);
    flow.dispose();
  });

  it('never announces an unusable verification URL', async () => {
    server.queue('/device', deviceAuthorizationReply({ verification_uri: 'javascript:alert(1)' }));
    const { flow, recorder } = createTestFlow(server);
    flow.grant();
    const [error] = await nextSignal(flow, 'requestFailed');
    expect(error.code).toBe('OAuthTokenNotFoundError');
    expect(recorder.of('authorizeWithUserCode')).toEqual([]);
    expect(flow.verificationUrl).toBeNull();
    flow.dispose();
  });
});

describe('polling through the class', () => {
  it('handles GitHub-style answers: form bodies, errors with HTTP 200, and slow_down with a new interval', async () => {
    server.handle('/device', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'device_code=dc&user_code=ABCD-1234&verification_uri=https%3A%2F%2Fgithub.com%2Flogin%2Fdevice&expires_in=899&interval=5',
    });
    server.queue('/token', { status: 200, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'error=slow_down&error_description=Too+many+requests&interval=15' });
    server.queue('/token', { status: 200, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'access_token=gho_abc&token_type=bearer&scope=repo' });
    const { flow, clock } = createTestFlow(server);
    flow.grant();
    await nextSignal(flow, 'authorizeWithUserCode');
    clock.increment(5_000);
    const [nextPollAt] = await nextSignal(flow, 'nextPollAtChanged');
    expect(nextPollAt!.getTime() - clock.now()).toBe(15_000);
    clock.increment(14_999);
    expect(server.requestsTo('/token')).toHaveLength(1);
    clock.increment(1);
    await nextSignal(flow, 'granted');
    expect(flow.token).toBe('gho_abc');
    expect(flow.grantedScopeTokens).toEqual(['repo']);
    flow.dispose();
  });

  it('startTokenPolling() returns true when polling runs, false with requestFailed otherwise', async () => {
    const idle = new OAuth2DeviceAuthorizationFlow({ tokenUrl: server.url('/token') });
    const idleFailures: string[] = [];
    idle.on('requestFailed', (error) => idleFailures.push(error.code));
    const pollingSignals: boolean[] = [];
    idle.on('pollingChanged', (value) => pollingSignals.push(value));
    expect(idle.startTokenPolling()).toBe(false);
    expect(idleFailures).toEqual(['ClientError']);
    expect(pollingSignals).toEqual([]);
    idle.dispose();

    const devicesBefore = server.requestsTo('/device').length;
    const { flow, clock, recorder } = await polling();
    expect(flow.startTokenPolling()).toBe(true);
    flow.stopTokenPolling();
    expect(recorder.of('pollingChanged').at(-1)).toEqual([false]);
    expect(flow.status).toBe('TemporaryCredentialsReceived');
    expect(flow.startTokenPolling()).toBe(true);
    expect(flow.polling).toBe(true);
    flow.tokenUrl = null;
    clock.increment(5_000);
    expect(recorder.of('requestFailed').map(([error]) => error.code)).toEqual(['ClientError']);
    expect(flow.polling).toBe(false);
    expect(flow.startTokenPolling()).toBe(false);
    flow.tokenUrl = server.url('/token');
    clock.increment(1_800_000);
    expect(flow.startTokenPolling()).toBe(false);
    expect(recorder.of('requestFailed').map(([error]) => error.code)).toEqual(['ClientError', 'ClientError', 'ExpiredError']);
    expect(server.requestsTo('/device')).toHaveLength(devicesBefore + 1);
    flow.dispose();
  });

  it('stopTokenPolling() aborts the poll in flight without reporting it', async () => {
    server.handle('/token', () => 'handled');
    const { flow, clock, recorder } = await polling();
    clock.increment(5_000);
    await server.nextRequest('/token');
    flow.stopTokenPolling();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(recorder.of('requestFailed')).toEqual([]);
    expect(flow.polling).toBe(false);
    flow.dispose();
  });

  it('reports access_denied and expired_token as Qt does', async () => {
    for (const [body, code] of [
      [{ error: 'access_denied', error_description: 'The user denied the request' }, 'ServerError'],
      [{ error: 'expired_token' }, 'ExpiredError'],
    ] as const) {
      server.queue('/token', { status: 400, json: body });
      const { flow, clock, recorder } = await polling();
      clock.increment(5_000);
      const [error] = await nextSignal(flow, 'requestFailed');
      expect(error.code).toBe(code);
      expect(recorder.of('serverReportedErrorOccurred')).toEqual([[body.error, 'error_description' in body ? body.error_description : '', null]]);
      expect(flow.status).toBe('TemporaryCredentialsReceived');
      flow.dispose();
    }
  });
});

describe('refresh through the class', () => {
  it('refreshAccessToken() and refreshTokens() both refresh, RefreshingToken then Granted', async () => {
    server.handle('/token', tokenReply({ access_token: 'refreshed' }));
    for (const method of ['refreshAccessToken', 'refreshTokens'] as const) {
      const { flow, recorder } = createTestFlow(server, { refreshToken: 'rt-1', token: 'old' });
      flow[method]();
      expect(flow.status).toBe('RefreshingToken');
      const request = await server.nextRequest('/token');
      expect(Object.fromEntries(request.params)).toEqual({ grant_type: 'refresh_token', refresh_token: 'rt-1', client_id: 'tv-app' });
      await nextSignal(flow, 'granted');
      expect(recorder.of('statusChanged')).toEqual([['RefreshingToken'], ['Granted']]);
      expect([flow.token, flow.refreshToken]).toEqual(['refreshed', 'refresh-token-1']);
      flow.dispose();
    }
  });

  it('refuses synchronously while polling', async () => {
    const { flow, recorder } = await polling({ refreshToken: 'rt' });
    flow.refreshTokens();
    expect(recorder.of('requestFailed').map(([error]) => error.message)).toEqual(['Cannot refresh while polling is in progress']);
    flow.dispose();
  });

  it('treats a pending answer to a refresh as a failure, never a hang', async () => {
    server.queue('/token', pending);
    const { flow } = createTestFlow(server, { refreshToken: 'rt', token: 'at' });
    flow.refreshTokens();
    const [error] = await nextSignal(flow, 'requestFailed');
    expect(error).toMatchObject({ code: 'ServerError', error: 'authorization_pending' });
    expect(flow.status).toBe('Granted');
    flow.dispose();
  });
});

describe('calls from listeners', () => {
  it('are handled at once: startTokenPolling() in requestFailed resumes polling and returns true', async () => {
    server.queue('/token', { status: 400, json: { error: 'access_denied' } });
    const { flow, clock, recorder } = await polling();
    const returned: boolean[] = [];
    flow.on('requestFailed', () => returned.push(flow.startTokenPolling()));
    clock.increment(5_000);
    await nextSignal(flow, 'requestFailed');
    expect(returned).toEqual([true]);
    expect(flow.polling).toBe(true);
    expect(recorder.of('pollingChanged').slice(-2)).toEqual([[false], [true]]);
    flow.dispose();
  });

  it("see the properties as Qt's listeners do, changing signal by signal", async () => {
    server.handle('/device', deviceAuthorizationReply());
    const { flow } = createTestFlow(server);
    const seen: string[] = [];
    flow.on('userCodeChanged', () => seen.push(`userCode: status=${flow.status} polling=${flow.polling} code=${flow.userCode}`));
    flow.on('statusChanged', () => seen.push(`status: status=${flow.status} polling=${flow.polling}`));
    flow.on('authorizeWithUserCode', () => seen.push(`authorize: polling=${flow.polling}`));
    flow.on('pollingChanged', () => seen.push(`polling: polling=${flow.polling}`));
    flow.grant();
    await nextSignal(flow, 'pollingChanged');
    expect(seen).toEqual([
      'userCode: status=NotAuthenticated polling=false code=WDJB-MJHT',
      'status: status=TemporaryCredentialsReceived polling=false',
      'authorize: polling=false',
      'polling: polling=true',
    ]);
    flow.dispose();
  });

  it('deliver the signals they cause after the ones already waiting, in order', () => {
    const flow = new OAuth2DeviceAuthorizationFlow({ tokenUrl: server.url('/token') });
    const order: string[] = [];
    flow.on('requestFailed', (error) => {
      order.push(error.message);
      if (order.length === 1) flow.refreshTokens();
    });
    flow.on('statusChanged', (status) => order.push(status));
    flow.grant();
    expect(order).toEqual(['No authorization URL set', 'No refresh token set']);
    flow.dispose();
  });
});

describe('inspection', () => {
  it('passes the inspect option to the actor, for the Stately inspector or a log', () => {
    const seen: string[] = [];
    const flow = new OAuth2DeviceAuthorizationFlow({ tokenUrl: server.url('/token'), inspect: (event) => seen.push(event.type) });
    flow.grant();
    expect(seen).toEqual(expect.arrayContaining(['@xstate.actor', '@xstate.event', '@xstate.snapshot']));
    expect(flow.actor.getSnapshot().matches({ failed: 'authorization' })).toBe(true);
    flow.dispose();
  });
});

describe('dispose()', () => {
  it('silences the flow for good', async () => {
    server.handle('/token', () => 'handled');
    const { flow, clock, recorder } = await polling();
    clock.increment(5_000);
    await server.nextRequest('/token');
    recorder.drain();
    flow.dispose();
    flow.dispose();
    clock.increment(3_600_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(recorder.drain()).toEqual([]);
    expect(() => flow.grant()).toThrow(/disposed/);
    expect(flow.userCode).toBe('WDJB-MJHT');
  });

  it('follows one rule afterwards: getters, snapshot() and toJSON() read the last values, every other member throws', async () => {
    const { flow } = await polling();
    flow.dispose();
    expect([flow.userCode, flow.status, flow.clientIdentifier, flow.requestTimeout]).toEqual(['WDJB-MJHT', 'TemporaryCredentialsReceived', 'tv-app', 30_000]);
    expect(flow.snapshot().format).toBe('oauth2-device-flow');
    expect(flow.toJSON()).toMatchObject({ userCode: 'WDJB-MJHT' });
    const members: [string, () => unknown][] = [
      ['grant()', () => flow.grant()],
      ['refreshTokens()', () => flow.refreshTokens()],
      ['refreshAccessToken()', () => flow.refreshAccessToken()],
      ['startTokenPolling()', () => flow.startTokenPolling()],
      ['stopTokenPolling()', () => flow.stopTokenPolling()],
      ['on()', () => flow.on('granted', () => undefined)],
      ['tokenUrl =', () => (flow.tokenUrl = null)],
      ['clientIdentifierSharedKey =', () => (flow.clientIdentifierSharedKey = 's')],
      ['fetch =', () => (flow.fetch = undefined)],
      ['networkRequestModifier =', () => (flow.networkRequestModifier = null)],
      ['modifyParametersFunction =', () => (flow.modifyParametersFunction = null)],
      ['requestTimeout =', () => (flow.requestTimeout = 1)],
      ['maxResponseBytes =', () => (flow.maxResponseBytes = 1)],
    ];
    for (const [name, call] of members) expect([name, thrownBy(call)]).toEqual([name, expect.objectContaining({ code: 'ClientError', message: 'The flow was disposed' })]);
    expect(() => flow.dispose()).not.toThrow();
  });

  it('called by a listener, stops the listeners after it from being called, for that signal and every later one', async () => {
    const { flow } = await polling();
    const calls: string[] = [];
    flow.on('requestFailed', () => {
      calls.push('first');
      flow.dispose();
    });
    flow.on('requestFailed', () => calls.push('second'));
    flow.on('pollingChanged', () => calls.push('pollingChanged'));
    // Refused while polling: requestFailed, at once.
    flow.refreshTokens();
    expect(calls).toEqual(['first']);
  });

  // Each child runs a flow against its own server, disposes it at the given moment and closes the server: with no
  // timer, socket or listener left behind, Node exits on its own, long before the 60 s poll interval.
  it.each([
    ['while waiting for the next poll', 'authorizeWithUserCode', false],
    ['while a poll is in flight', 'pollRequested', true],
  ])('leaves nothing that keeps the process alive when called %s', async (_when, moment, hangPolls) => {
    const script = childFlowScript({ interval: hangPolls ? 1 : 60, hangPolls, disposeOn: moment });
    const started = Date.now();
    const { stdout, code } = await runNode(script, 15_000);
    expect(stdout.trim()).toBe('disposed');
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('lets a granted flow end the process: its refresh timer does not hold it open', async () => {
    const script = childFlowScript({ interval: 1, hangPolls: false, disposeOn: null });
    const started = Date.now();
    const { stdout, code } = await runNode(script, 15_000);
    expect(stdout.trim()).toBe('granted Granted');
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

/**
 * A script that serves a device flow (tokens after one poll, or polls that never answer), runs the built package
 * against it, and either disposes the flow at a moment or lets it reach `granted` (with an hour-long token and
 * autoRefresh on). It closes its server when done, so only the flow (a timer, or a request it did not abort) could
 * keep Node running.
 */
function childFlowScript({ interval, hangPolls, disposeOn }: { interval: number; hangPolls: boolean; disposeOn: string | null }): string {
  return `
    import { createServer } from 'node:http';
    import { OAuth2DeviceAuthorizationFlow } from './dist/index.js';
    let flow;
    const server = createServer((req, res) => {
      if (req.url === '/token') {
        if (${disposeOn === 'pollRequested'}) setTimeout(() => finish('disposed'), 50);
        if (${hangPolls}) return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.url === '/device'
        ? { device_code: 'd', user_code: 'U', verification_uri: 'https://example.com', expires_in: 600, interval: ${interval} }
        : { access_token: 'at', refresh_token: 'rt', expires_in: 3600 }));
    });
    function finish(message) {
      if (message === 'disposed') flow.dispose();
      console.log(message);
      // Idle connections close now; one with a request in flight closes only when the client aborts it.
      server.close();
    }
    server.listen(0, '127.0.0.1', () => {
      const base = 'http://127.0.0.1:' + server.address().port;
      flow = new OAuth2DeviceAuthorizationFlow({ authorizationUrl: base + '/device', tokenUrl: base + '/token', autoRefresh: true });
      flow.on('granted', () => finish('granted ' + flow.status));
      if (${JSON.stringify(disposeOn)} === 'authorizeWithUserCode') flow.on('authorizeWithUserCode', () => setTimeout(() => finish('disposed'), 0));
      flow.grant();
    });`;
}

/** Runs an ES module script with Node in the package directory; kills it after `timeout` ms. */
function runNode(script: string, timeout: number): Promise<{ stdout: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd() });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.pipe(process.stderr);
    const timer = setTimeout(() => child.kill(), timeout);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, code });
    });
  });
}
