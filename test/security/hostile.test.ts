/**
 * A hostile or broken server, at the device authorization endpoint and at the token endpoint while polling. Each
 * behaviour has the outcome documented in docs/resilience.md; none crashes the flow, rejects unhandled (vitest would
 * fail the run), or leaves a timer or socket behind.
 */
import { exactClock } from '../helpers/exactClock.js';
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeviceFlowError } from '../../src/core/errors.js';
import { OAuth2DeviceAuthorizationFlow } from '../../src/flow/oauth2DeviceAuthorizationFlow.js';
import { deviceAuthorizationReply } from '../helpers/flowHarness.js';
import { LoopbackServer, type RecordedRequest, type Reply } from '../helpers/loopbackServer.js';
import { DEFAULT_TRANSPORTS, givenNoFetchUse } from '../helpers/transports.js';

type Behaviour = (request: RecordedRequest, response: ServerResponse) => Reply | 'handled';

// A million characters: a megabyte, within the 1 MiB body limit.
const MEGABYTE = 'm'.repeat(1_000_000);

/** A well-formed answer of the endpoint `request` went to, with `extra` (raw JSON text) as one more member. */
function validAnswerWith(extra: string): Behaviour {
  return (request) => {
    const valid = request.path === '/device' ? deviceAuthorizationReply().json : { access_token: 'access-token', token_type: 'Bearer' };
    return { status: 200, headers: { 'content-type': 'application/json' }, body: `${JSON.stringify(valid).slice(0, -1)},"x":${extra}}` };
  };
}

const wideObject = `{${Array.from({ length: 70_000 }, (_, index) => `"m${index}":${index}`).join(',')}}`;

/** What a hostile endpoint does, by name. */
const BEHAVIOURS: Record<string, Behaviour> = {
  'connection reset mid-response': (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': '200' });
    response.write('{"access_token":"');
    setTimeout(() => response.socket?.destroy(), 10);
    return 'handled';
  },
  'accept, then hang': () => 'handled',
  'a body that trickles one byte a second': (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    const trickle = setInterval(() => response.write(' '), 1000);
    response.on('close', () => clearInterval(trickle));
    response.write('{');
    return 'handled';
  },
  'truncated JSON': () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '{"access_token":"abc' }),
  'an HTML 502 page': () => ({ status: 502, headers: { 'content-type': 'text/html' }, body: '<html><body><h1>502 Bad Gateway</h1></body></html>' }),
  '200 with an empty body': () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '' }),
  'invalid UTF-8': (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(Buffer.from([0x7b, 0x22, 0x61, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]));
    return 'handled';
  },
  'a 10 MiB body': (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    let left = 40;
    const pump = () => {
      while (left-- > 0) if (!response.write(chunk)) return void response.once('drain', pump);
      response.end();
    };
    pump();
    return 'handled';
  },
  'an error member that is not a string': () => ({ status: 400, json: { error: { code: 42 } } }),
  "a web framework's own 503 error JSON": () => ({
    status: 503,
    json: { timestamp: '2026-11-27T10:00:00.000+00:00', status: 503, error: 'Service Unavailable', path: '/oauth/token' },
  }),
  'temporarily_unavailable': () => ({ status: 503, json: { error: 'temporarily_unavailable' } }),
  'a redirect to another host': () => ({ status: 307, headers: { location: 'http://127.0.0.2:9/elsewhere' } }),
  // Once a stack overflow in the comparison behind the …Changed announcements: an uncaught RangeError.
  'a member nested 3,000 arrays deep': validAnswerWith(`${'['.repeat(3_000)}${']'.repeat(3_000)}`),
  'a member nested 20,000 objects deep': validAnswerWith(`${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`),
  // Once most of a second of blocked event loop.
  '70,000 members': validAnswerWith(wideObject),
};

/**
 * The outcome at each endpoint: the failure's code, or `fault` for a transport fault ridden out while polling. As in
 * Qt, an answer that arrived but cannot be used is a ServerError; NetworkError is for no usable answer at all.
 */
const OUTCOMES: Record<string, { authorization: string; polling: string }> = {
  'connection reset mid-response': { authorization: 'NetworkError', polling: 'fault' },
  'accept, then hang': { authorization: 'NetworkError', polling: 'fault' },
  'a body that trickles one byte a second': { authorization: 'NetworkError', polling: 'fault' },
  'truncated JSON': { authorization: 'ServerError', polling: 'ServerError' },
  'an HTML 502 page': { authorization: 'ServerError', polling: 'fault' },
  '200 with an empty body': { authorization: 'ServerError', polling: 'ServerError' },
  'invalid UTF-8': { authorization: 'ServerError', polling: 'ServerError' },
  'a 10 MiB body': { authorization: 'ServerError', polling: 'ServerError' },
  'an error member that is not a string': { authorization: 'ServerError', polling: 'ServerError' },
  "a web framework's own 503 error JSON": { authorization: 'ServerError', polling: 'fault' },
  'temporarily_unavailable': { authorization: 'ServerError', polling: 'fault' },
  'a redirect to another host': { authorization: 'ServerError', polling: 'ServerError' },
  'a member nested 3,000 arrays deep': { authorization: 'ServerError', polling: 'ServerError' },
  'a member nested 20,000 objects deep': { authorization: 'ServerError', polling: 'ServerError' },
  '70,000 members': { authorization: 'ServerError', polling: 'ServerError' },
};

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function hostileServer(device: Behaviour | Reply, token: Behaviour | Reply = { status: 400, json: { error: 'authorization_pending' } }) {
  const server = await LoopbackServer.start();
  server.handle('/device', device);
  server.handle('/token', token);
  return server;
}

function flowAgainst(server: LoopbackServer) {
  const clock = exactClock(Date.now());
  const flow = new OAuth2DeviceAuthorizationFlow({
    authorizationUrl: server.url('/device'),
    tokenUrl: server.url('/token'),
    clientIdentifier: 'tv-app',
    requestTimeout: 300,
    clock,
  });
  const outcome = new Promise<string>((resolve) => {
    flow.on('requestFailed', (error: DeviceFlowError) => resolve(error.code));
    flow.on('transientError', () => resolve('fault'));
    flow.on('granted', () => resolve('granted'));
  });
  return { flow, clock, outcome };
}

/** Resources that keep Node running, by kind. */
function handles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/** Waits until no more sockets and timers are alive than `before` had. */
async function expectNothingLeft(before: Record<string, number>): Promise<void> {
  const kinds = ['TCPSocketWrap', 'TCPServerWrap', 'Timeout'];
  const excess = () => kinds.filter((kind) => (handles()[kind] ?? 0) > (before[kind] ?? 0));
  for (let waited = 0; waited < 2_000 && excess().length > 0; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(excess()).toEqual([]);
}

describe.each(DEFAULT_TRANSPORTS)('a hostile server, given no fetch: %s', (_name, transport) => {
  givenNoFetchUse(transport);

  describe.each(Object.keys(BEHAVIOURS))('%s', (name) => {
    it(`at the device authorization endpoint: ${OUTCOMES[name]!.authorization}`, async () => {
      const before = handles();
      const server = await hostileServer(BEHAVIOURS[name]!);
      const { flow, outcome } = flowAgainst(server);
      flow.grant();
      expect(await outcome).toBe(OUTCOMES[name]!.authorization);
      expect(flow.status).toBe('NotAuthenticated');
      flow.dispose();
      await server.close();
      await expectNothingLeft(before);
    });

    it(`while polling: ${OUTCOMES[name]!.polling}`, async () => {
      const before = handles();
      const server = await hostileServer(deviceAuthorizationReply(), BEHAVIOURS[name]!);
      const { flow, clock, outcome } = flowAgainst(server);
      flow.grant();
      await new Promise((resolve) => flow.on('authorizeWithUserCode', resolve));
      clock.set(flow.nextPollAt!.getTime());
      expect(await outcome).toBe(OUTCOMES[name]!.polling);
      // A fault is ridden out: polling goes on; anything else ends it.
      expect(flow.polling).toBe(OUTCOMES[name]!.polling === 'fault');
      expect(flow.status).toBe('TemporaryCredentialsReceived');
      flow.dispose();
      await server.close();
      await expectNothingLeft(before);
    });
  });
});

describe.each(DEFAULT_TRANSPORTS)('a hostile refresh response, given no fetch: %s', (_name, transport) => {
  givenNoFetchUse(transport);

  it('nested thousands of levels deep: requestFailed with ServerError, the tokens kept, the process alive', async () => {
    const server = await hostileServer(deviceAuthorizationReply(), validAnswerWith(`${'['.repeat(3_000)}${']'.repeat(3_000)}`));
    cleanups.push(() => server.close());
    const { flow } = flowAgainst(server);
    cleanups.push(() => flow.dispose());
    flow.token = 'access-token-0';
    flow.refreshToken = 'refresh-token-0';
    const failed = new Promise<DeviceFlowError>((resolve) => flow.on('requestFailed', resolve));
    flow.refreshTokens();
    expect(await failed).toMatchObject({ code: 'ServerError' });
    expect([flow.status, flow.token, flow.refreshToken]).toEqual(['Granted', 'access-token-0', 'refresh-token-0']);
  });
});

describe.each(DEFAULT_TRANSPORTS)('a hostile server, on the real clock, given no fetch: %s', (_name, transport) => {
  givenNoFetchUse(transport);

  it('leaves no timer or socket behind once a flow riding out faults is disposed', async () => {
    const before = handles();
    const server = await hostileServer(deviceAuthorizationReply({ interval: 1 }), BEHAVIOURS['accept, then hang']!);
    const flow = new OAuth2DeviceAuthorizationFlow({
      authorizationUrl: server.url('/device'),
      tokenUrl: server.url('/token'),
      clientIdentifier: 'tv-app',
      requestTimeout: 200,
      // The back-off alone, without the poll jitter, so that the waits are exact.
      pollJitter: 0,
    });
    const faults: number[] = [];
    const twoFaults = new Promise<void>((resolve) =>
      flow.on('transientError', (_error: DeviceFlowError, retryIn: number) => {
        faults.push(retryIn);
        if (faults.length === 2) resolve();
      }),
    );
    flow.grant();
    await twoFaults;
    // The back-off doubled between the two faults.
    expect(faults).toEqual([2_000, 4_000]);
    flow.dispose();
    await server.close();
    await expectNothingLeft(before);
  }, 10_000);
});

describe('absurd values in the device authorization response', () => {
  let before: Record<string, number>;
  beforeEach(() => {
    before = handles();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await expectNothingLeft(before);
  });

  const run = async (overrides: Record<string, unknown>) => {
    const server = await hostileServer(deviceAuthorizationReply(overrides));
    cleanups.push(() => server.close());
    const { flow, outcome } = flowAgainst(server);
    cleanups.push(() => flow.dispose());
    const shown = new Promise<string>((resolve) => flow.on('authorizeWithUserCode', () => resolve('shown')));
    flow.grant();
    return { flow, result: await Promise.race([shown, outcome]) };
  };

  it.each([
    ['interval -1', { interval: -1 }],
    ['interval NaN', { interval: 'NaN' }],
    ['interval null', { interval: null }],
  ])('%s: polls every 5 s', async (_name, overrides) => {
    const { flow, result } = await run(overrides);
    expect(result).toBe('shown');
    expect(flow.nextPollAt!.getTime() - flow.actor.getSnapshot().context.properties.userCodeExpirationAt! + 1_800_000).toBe(5_000);
  });

  it('interval 1e12: longer than the code lives, so it fails at once with ExpiredError', async () => {
    expect((await run({ interval: 1e12 })).result).toBe('ExpiredError');
  });

  it('expires_in 0: the code is unusable (OAuthTokenNotFoundError)', async () => {
    expect((await run({ expires_in: 0 })).result).toBe('OAuthTokenNotFoundError');
  });

  it('expires_in 1e12: the code lives a day at most', async () => {
    const { flow, result } = await run({ expires_in: 1e12 });
    expect(result).toBe('shown');
    expect(flow.userCodeExpirationAt!.getTime() - flow.nextPollAt!.getTime()).toBe(86_400_000 - 5_000);
  });

  it('a megabyte user code: unusable (OAuthTokenNotFoundError); a megabyte device code: kept', async () => {
    expect((await run({ user_code: MEGABYTE })).result).toBe('OAuthTokenNotFoundError');
    expect((await run({ device_code: MEGABYTE })).result).toBe('shown');
  });

  it('a megabyte error description: reported, shortened in the message', async () => {
    const server = await hostileServer({ status: 400, json: { error: 'invalid_request', error_description: MEGABYTE } });
    cleanups.push(() => server.close());
    const { flow } = flowAgainst(server);
    cleanups.push(() => flow.dispose());
    const failure = new Promise<DeviceFlowError>((resolve) => flow.on('requestFailed', resolve));
    flow.grant();
    const error = await failure;
    expect(error.errorDescription).toHaveLength(MEGABYTE.length);
    expect(error.message.length).toBeLessThan(400);
  });

  it('duplicated keys: the last one wins', async () => {
    const server = await hostileServer({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"device_code":"d","user_code":"FIRST","user_code":"LAST","verification_uri":"https://example.com","expires_in":600}',
    });
    cleanups.push(() => server.close());
    const { flow } = flowAgainst(server);
    cleanups.push(() => flow.dispose());
    const shown = new Promise<string>((resolve) => flow.on('authorizeWithUserCode', (_url, code) => resolve(code)));
    flow.grant();
    expect(await shown).toBe('LAST');
  });
});
