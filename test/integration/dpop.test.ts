/**
 * DPoP (RFC 9449) end to end against the development server, which binds a token to the key of the proof its request
 * carried: the flow's proofs get bound tokens, the refresh keeps them bound, a server's nonce challenge is answered
 * once and at once, snapshots keep the key (or say why they could not), and inspection shows none of it. A recording
 * proxy on 127.0.0.1 counts the token endpoint's requests and, for one test, spoils the nonces the server sends. The
 * flows run on a simulated clock that jumps to each poll.
 */
import { exactClock } from '../helpers/exactClock.js';
import { once } from 'node:events';
import { Agent, createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK } from 'jose';
import { type InspectionEvent, SimulatedClock } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInspectionSanitizer } from '../../src/core/inspection.js';
import { DeviceFlowError } from '../../src/core/errors.js';
import { generateDpopKeyPair } from '../../src/core/protocol/dpop.js';
import { type DevServer, startDevServer } from '../../src/devServer/server.js';
import { discover } from '../../src/http/discovery.js';
import { type DeviceFlowOptions, OAuth2DeviceAuthorizationFlow } from '../../src/flow/oauth2DeviceAuthorizationFlow.js';
import { thrownBy } from '../helpers/expectError.js';
import { nextSignal, recordSignals } from '../helpers/flowHarness.js';
import { startTamperingProxy } from '../helpers/tamperingProxy.js';

/** One request through the recording proxy, with what the server answered. */
interface Hop {
  path: string;
  /** The request's DPoP proof, if any. */
  proof: string | undefined;
  status: number;
  /** The `error` member of the answer, if any. */
  error: string | undefined;
  /** The DPoP-Nonce the server sent, before any spoiling. */
  nonce: string | undefined;
  /** The answer's body. */
  body: string;
}

interface RecordingProxy {
  origin: string;
  hops: Hop[];
  /** Replace every DPoP-Nonce of a use_dpop_nonce answer with one the server never issued. */
  spoilChallengeNonces: boolean;
  tokenHops(): Hop[];
  close(): Promise<void>;
}

/** A proxy on 127.0.0.1 in front of `upstream`, passing the Host header on so that the server checks htu against it. */
async function startRecordingProxy(upstream: string): Promise<RecordingProxy> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  const hops: Hop[] = [];
  let spoiled = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const headers = { ...req.headers, 'content-length': String(body.length) };
    const answer = await new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const outgoing = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (upstreamResponse) => {
        const parts: Buffer[] = [];
        upstreamResponse.on('data', (part: Buffer) => parts.push(part));
        upstreamResponse.on('end', () => resolve({ status: upstreamResponse.statusCode ?? 502, headers: upstreamResponse.headers, body: Buffer.concat(parts) }));
      });
      outgoing.on('error', reject);
      outgoing.end(body);
    });
    const text = answer.body.toString('utf8');
    let error: string | undefined;
    try {
      error = (JSON.parse(text) as { error?: string }).error;
    } catch {}
    const nonce = answer.headers['dpop-nonce'] as string | undefined;
    hops.push({ path: new URL(req.url ?? '/', 'http://x').pathname, proof: req.headers.dpop as string | undefined, status: answer.status, error, nonce, body: text });
    const outgoingHeaders = { ...answer.headers };
    delete outgoingHeaders['transfer-encoding'];
    delete outgoingHeaders.connection;
    if (proxy.spoilChallengeNonces && error === 'use_dpop_nonce') outgoingHeaders['dpop-nonce'] = `never-issued-${++spoiled}`;
    res.writeHead(answer.status, outgoingHeaders);
    res.end(answer.body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const proxy: RecordingProxy = {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hops,
    spoilChallengeNonces: false,
    tokenHops: () => hops.filter((hop) => hop.path === '/token'),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
  return proxy;
}

let server: DevServer;
let nonceServer: DevServer;
let proxy: RecordingProxy;
let nonceProxy: RecordingProxy;
beforeAll(async () => {
  [server, nonceServer] = await Promise.all([startDevServer(), startDevServer({ dpop: { requireNonce: true } })]);
  [proxy, nonceProxy] = await Promise.all([startRecordingProxy(server.issuer), startRecordingProxy(nonceServer.issuer)]);
});
afterAll(async () => {
  await Promise.all([proxy.close(), nonceProxy.close()]);
  await Promise.all([server.close(), nonceServer.close()]);
});

/** The options of a public client of `on`, through `via` when given, on a simulated clock at the real time. */
function optionsFor(on: DevServer, via?: RecordingProxy, options: DeviceFlowOptions = {}): DeviceFlowOptions & { clock: SimulatedClock } {
  const clock = exactClock(Date.now());
  const origin = via?.origin ?? on.issuer;
  return {
    authorizationUrl: `${origin}/device/auth`,
    tokenUrl: `${origin}/token`,
    clientIdentifier: on.clients.public.clientIdentifier,
    requestedScopeTokens: ['openid', 'offline_access'],
    ...options,
    clock,
  };
}

/** Resolves with the error of the next `requestFailed`, or `null` at the next `granted`. */
function outcomeOf(flow: OAuth2DeviceAuthorizationFlow): Promise<DeviceFlowError | null> {
  return new Promise((resolve) => {
    const offs = [flow.on('granted', () => settle(null)), flow.on('requestFailed', (error) => settle(error))];
    function settle(error: DeviceFlowError | null) {
      for (const off of offs) off();
      resolve(error);
    }
  });
}

/** Grants with the user approving at `on` before the first poll; resolves with the outcome. */
async function grant(flow: OAuth2DeviceAuthorizationFlow, clock: SimulatedClock, on: DevServer): Promise<DeviceFlowError | null> {
  const outcome = outcomeOf(flow);
  flow.grant();
  const [, userCode] = await nextSignal(flow, 'authorizeWithUserCode');
  await on.approve(userCode);
  clock.set(flow.nextPollAt!.getTime());
  return outcome;
}

async function refresh(flow: OAuth2DeviceAuthorizationFlow): Promise<DeviceFlowError | null> {
  const outcome = outcomeOf(flow);
  flow.refreshTokens();
  return outcome;
}

const thumbprintOf = async (keyPair: CryptoKeyPair) => calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
const boundTo = async (on: DevServer, token: string) => ((await on.introspect(token)).cnf as { jkt?: string } | undefined)?.jkt;

describe('DPoP-bound tokens', () => {
  it('binds the grant’s token to the key, and the refreshed one too', async () => {
    const keyPair = await generateDpopKeyPair();
    const options = optionsFor(server, proxy, { dpopKeyPair: keyPair });
    const flow = new OAuth2DeviceAuthorizationFlow(options);
    const { signals } = recordSignals(flow);
    expect(await grant(flow, options.clock, server)).toBeNull();
    expect(flow.tokenType).toBe('DPoP');
    const thumbprint = await thumbprintOf(keyPair);
    expect(await boundTo(server, flow.token)).toBe(thumbprint);
    expect(signals.filter((signal) => signal.name === 'tokenTypeChanged').map((signal) => signal.args)).toEqual([['DPoP']]);

    // Every token request carried a proof of this key, for the URL it went to.
    const polls = proxy.tokenHops().slice(-1);
    for (const { proof } of polls) {
      expect(proof).toBeDefined();
      expect(await calculateJwkThumbprint(decodeProtectedHeader(proof!).jwk!)).toBe(thumbprint);
      expect(decodeJwt(proof!)).toMatchObject({ htm: 'POST', htu: `${proxy.origin}/token`, iat: Math.floor(options.clock.now() / 1000) });
    }

    const first = flow.token;
    expect(await refresh(flow)).toBeNull();
    expect(flow.token).not.toBe(first);
    expect(flow.tokenType).toBe('DPoP');
    expect(await boundTo(server, flow.token)).toBe(thumbprint);
    expect(proxy.tokenHops().at(-1)!.proof).toBeDefined();
    flow.dispose();
  });

  it('works with an EdDSA key', async () => {
    const keyPair = await generateDpopKeyPair('EdDSA');
    const options = optionsFor(server, undefined, { dpopKeyPair: keyPair });
    const flow = new OAuth2DeviceAuthorizationFlow(options);
    expect(await grant(flow, options.clock, server)).toBeNull();
    expect(flow.tokenType).toBe('DPoP');
    expect(await boundTo(server, flow.token)).toBe(await thumbprintOf(keyPair));
    expect(await refresh(flow)).toBeNull();
    expect(await boundTo(server, flow.token)).toBe(await thumbprintOf(keyPair));
    flow.dispose();
  });

  it('gets a bearer token, unbound, without a key', async () => {
    const options = optionsFor(server, proxy);
    const flow = new OAuth2DeviceAuthorizationFlow(options);
    expect(await grant(flow, options.clock, server)).toBeNull();
    expect(flow.tokenType).toBe('Bearer');
    expect(await boundTo(server, flow.token)).toBeUndefined();
    expect(proxy.tokenHops().at(-1)!.proof).toBeUndefined();
    flow.dispose();
  });

  it('takes a Bearer answer to a DPoP request as Bearer, and still grants (the documented decision)', async () => {
    const tampering = await startTamperingProxy(server.issuer);
    try {
      tampering.scenario = 'bearerForDpop';
      const keyPair = await generateDpopKeyPair();
      const clock = exactClock(Date.now());
      const flow = new OAuth2DeviceAuthorizationFlow({
        ...(await discover(tampering.issuer)),
        clientIdentifier: server.clients.public.clientIdentifier,
        requestedScopeTokens: ['openid', 'offline_access'],
        dpopKeyPair: keyPair,
        clock,
      });
      expect(await grant(flow, clock, server)).toBeNull();
      expect(tampering.exchanges.filter((exchange) => exchange.path === '/token').at(-1)).toMatchObject({ tampered: 'bearerForDpop' });
      expect(flow.tokenType).toBe('Bearer');
      expect(flow.status).toBe('Granted');
      expect(flow.idTokenClaims).toMatchObject({ iss: tampering.issuer });
      // The server bound it all the same: only the answer said otherwise.
      expect(await boundTo(server, flow.token)).toBe(await thumbprintOf(keyPair));
      flow.dispose();
    } finally {
      await tampering.close();
    }
  });
});

describe('server nonces (RFC 9449 §8)', () => {
  it('answers the first poll’s use_dpop_nonce at once with the nonce, as no poll of its own, and uses it afterwards', async () => {
    const options = optionsFor(nonceServer, nonceProxy, { dpopKeyPair: await generateDpopKeyPair() });
    const flow = new OAuth2DeviceAuthorizationFlow(options);
    const recorder = recordSignals(flow);
    const granted = outcomeOf(flow);
    flow.grant();
    const [, userCode] = await nextSignal(flow, 'authorizeWithUserCode');
    const before = nonceProxy.tokenHops().length;
    const pollAt = flow.nextPollAt!.getTime();

    // The first poll, challenged; its retry goes out without the clock moving, and its answer schedules the next poll.
    const scheduled = nextSignal(flow, 'nextPollAtChanged');
    options.clock.set(pollAt);
    const [nextPollAt] = await scheduled;
    const [challenged, retried] = nonceProxy.tokenHops().slice(before);
    expect(nonceProxy.tokenHops().length - before).toBe(2);
    expect(challenged).toMatchObject({ status: 400, error: 'use_dpop_nonce', nonce: expect.any(String) });
    expect(decodeJwt(challenged!.proof!).nonce).toBeUndefined();
    expect(decodeJwt(retried!.proof!).nonce).toBe(challenged!.nonce);
    expect(decodeJwt(retried!.proof!).jti).not.toBe(decodeJwt(challenged!.proof!).jti);
    expect(retried!.error).toBe('authorization_pending');
    expect(options.clock.now()).toBe(pollAt);
    expect(nextPollAt!.getTime()).toBe(pollAt + 5_000);

    await nonceServer.approve(userCode);
    options.clock.set(flow.nextPollAt!.getTime());
    expect(await granted).toBeNull();
    // The nonce was kept: the poll that got the tokens was not challenged.
    const last = nonceProxy.tokenHops().slice(before);
    expect(last).toHaveLength(3);
    expect(last[2]).toMatchObject({ status: 200 });
    expect(flow.tokenType).toBe('DPoP');

    const names = recorder.names();
    for (const name of ['requestFailed', 'serverReportedErrorOccurred', 'transientError'] as const) expect(names).not.toContain(name);
    expect(recorder.of('nextPollAtChanged').map(([at]) => at?.getTime() ?? null)).toEqual([pollAt, pollAt + 5_000, null]);

    // The refresh carries the latest nonce too.
    expect(await refresh(flow)).toBeNull();
    expect(nonceProxy.tokenHops().at(-1)).toMatchObject({ status: 200 });
    expect(decodeJwt(nonceProxy.tokenHops().at(-1)!.proof!).nonce).toEqual(expect.any(String));
    flow.dispose();
  });

  it('answers a refresh’s use_dpop_nonce at once, once, and the refresh succeeds', async () => {
    const keyPair = await generateDpopKeyPair();
    const options = optionsFor(nonceServer, nonceProxy, { dpopKeyPair: keyPair });
    const flow = new OAuth2DeviceAuthorizationFlow(options);
    expect(await grant(flow, options.clock, nonceServer)).toBeNull();
    const snapshot = flow.snapshot();
    flow.dispose();

    // Resumed, the flow knows no nonce yet: its first refresh is challenged.
    const resumed = new OAuth2DeviceAuthorizationFlow({ ...optionsFor(nonceServer, nonceProxy), snapshot, dpopKeyPair: keyPair });
    const recorder = recordSignals(resumed);
    const before = nonceProxy.tokenHops().length;
    expect(await refresh(resumed)).toBeNull();
    const hops = nonceProxy.tokenHops().slice(before);
    expect(hops.map((hop) => [hop.status, hop.error])).toEqual([
      [400, 'use_dpop_nonce'],
      [200, undefined],
    ]);
    expect(decodeJwt(hops[1]!.proof!).nonce).toBe(hops[0]!.nonce);
    expect(recorder.names()).not.toContain('requestFailed');
    expect(recorder.names()).not.toContain('serverReportedErrorOccurred');
    expect(recorder.of('statusChanged').map(([status]) => status)).toEqual(['RefreshingToken', 'Granted']);
    expect(await boundTo(nonceServer, resumed.token)).toBe(await thumbprintOf(keyPair));
    resumed.dispose();
  });

  it('fails the flow at a second challenge right after the retry, rather than loop', async () => {
    const options = optionsFor(nonceServer, nonceProxy, { dpopKeyPair: await generateDpopKeyPair() });
    const flow = new OAuth2DeviceAuthorizationFlow(options);
    const recorder = recordSignals(flow);
    const outcome = outcomeOf(flow);
    flow.grant();
    await nextSignal(flow, 'authorizeWithUserCode');
    const deviceCode = JSON.parse(nonceProxy.hops.filter((hop) => hop.path === '/device/auth').at(-1)!.body).device_code as string;
    const before = nonceProxy.tokenHops().length;
    nonceProxy.spoilChallengeNonces = true;
    try {
      options.clock.set(flow.nextPollAt!.getTime());
      const error = await outcome;
      expect(error).toMatchObject({ code: 'ServerError', error: 'use_dpop_nonce' });
      const hops = nonceProxy.tokenHops().slice(before);
      expect(hops.map((hop) => hop.error)).toEqual(['use_dpop_nonce', 'use_dpop_nonce']);
      expect(decodeJwt(hops[1]!.proof!).nonce).toBe('never-issued-1');
      expect(flow.actor.getSnapshot().matches({ failed: 'polling' })).toBe(true);
      expect(flow.polling).toBe(false);
      expect(recorder.of('serverReportedErrorOccurred').map(([code]) => code)).toEqual(['use_dpop_nonce']);
      // Neither the device code nor a proof is quoted.
      const visible = [error!.message, JSON.stringify(error!.toData())].join('\n');
      for (const secret of [deviceCode, ...hops.map((hop) => hop.proof!)]) expect(visible).not.toContain(secret);
      // Nothing more goes out.
      await new Promise((resolve) => setTimeout(resolve, 50));
      options.clock.increment(60_000);
      expect(nonceProxy.tokenHops().length - before).toBe(2);
    } finally {
      nonceProxy.spoilChallengeNonces = false;
      flow.dispose();
    }
  });
});

describe('snapshots', () => {
  it('keep an extractable key, and a flow resumed from one proves the same key', async () => {
    const keyPair = await generateDpopKeyPair('ES256', { extractable: true });
    const options = optionsFor(server, undefined, { dpopKeyPair: keyPair });
    const flow = new OAuth2DeviceAuthorizationFlow(options);
    expect(await grant(flow, options.clock, server)).toBeNull();
    const snapshot = flow.snapshot();
    flow.dispose();
    expect(snapshot.dpopKey).toMatchObject({
      algorithm: 'ES256',
      privateJwk: { kty: 'EC', crv: 'P-256', d: expect.any(String) },
      publicJwk: { kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String) },
    });
    expect(snapshot.dpopKey).not.toHaveProperty('publicJwk.d');

    const resumed = new OAuth2DeviceAuthorizationFlow({ ...optionsFor(server), snapshot: JSON.stringify(snapshot) });
    expect(resumed.tokenType).toBe('DPoP');
    expect(await refresh(resumed)).toBeNull();
    expect(await boundTo(server, resumed.token)).toBe(await thumbprintOf(keyPair));
    // And the key goes on into the next snapshot.
    expect(resumed.snapshot().dpopKey).toEqual(snapshot.dpopKey);
    resumed.dispose();
  });

  it('say a non-extractable key was not kept; resuming needs the key pair again', async () => {
    const keyPair = await generateDpopKeyPair();
    const options = optionsFor(server, undefined, { dpopKeyPair: keyPair });
    const flow = new OAuth2DeviceAuthorizationFlow(options);
    expect(await grant(flow, options.clock, server)).toBeNull();
    const snapshot = JSON.stringify(flow.snapshot());
    flow.dispose();
    expect(JSON.parse(snapshot).dpopKey).toEqual({ notSaved: 'its private key is not extractable' });

    const error = thrownBy(() => new OAuth2DeviceAuthorizationFlow({ ...optionsFor(server), snapshot }));
    expect(error.code).toBe('ClientError');
    expect(error.message).toMatch(/dpopKeyPair/);

    // With another key the server refuses the bound refresh token; with the same key it takes it.
    const stranger = new OAuth2DeviceAuthorizationFlow({ ...optionsFor(server), snapshot, dpopKeyPair: await generateDpopKeyPair() });
    const refused = await refresh(stranger);
    expect(refused).toMatchObject({ code: 'ServerError' });
    const { refreshToken, token } = JSON.parse(snapshot).state.context.properties as { refreshToken: string; token: string };
    for (const secret of [refreshToken, token]) expect([refused!.message, JSON.stringify(refused!.toData())].join('\n')).not.toContain(secret);
    stranger.dispose();
    const resumed = new OAuth2DeviceAuthorizationFlow({ ...optionsFor(server), snapshot, dpopKeyPair: keyPair });
    expect(await refresh(resumed)).toBeNull();
    expect(await boundTo(server, resumed.token)).toBe(await thumbprintOf(keyPair));
    resumed.dispose();
  });

  it('with a hostile dpopKey are refused with ClientError, and nothing crashes', async () => {
    const keyPair = await generateDpopKeyPair('ES256', { extractable: true });
    const flow = new OAuth2DeviceAuthorizationFlow({ ...optionsFor(server), dpopKeyPair: keyPair });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const saved = flow.snapshot();
    flow.dispose();
    const good = saved.dpopKey as { algorithm: string; privateJwk: Record<string, unknown>; publicJwk: Record<string, unknown> };
    expect(good.privateJwk.d).toEqual(expect.any(String));

    const huge = 'A'.repeat(2_000_000);
    const hostile: unknown[] = [
      null,
      'ES256',
      42,
      [],
      {},
      { notSaved: 42 },
      { notSaved: 'lost', privateJwk: good.privateJwk },
      { notSaved: huge },
      { notSaved: '\u001b[2J\u001b[31mrm -rf ~\u0007' },
      { ...good, algorithm: 'HS256' },
      { ...good, algorithm: 'none' },
      { ...good, extra: true },
      { ...good, privateJwk: good.publicJwk },
      { ...good, publicJwk: good.privateJwk },
      { ...good, privateJwk: 'not a JWK' },
      { ...good, privateJwk: [good.privateJwk] },
      { ...good, privateJwk: { ...good.privateJwk, d: huge } },
      { ...good, publicJwk: { ...good.publicJwk, x: huge } },
      { ...good, privateJwk: { ...good.privateJwk, kty: 42 } },
      { ...good, privateJwk: { ...good.privateJwk, ...(JSON.parse('{"__proto__": {"polluted": true}}') as object) } },
      { ...good, privateJwk: { ...good.privateJwk, constructor: 'x' } },
      { ...good, publicJwk: Object.fromEntries(Array.from({ length: 200 }, (_, index) => [`m${index}`, 'x'])) },
      { ...good, privateJwk: { ...good.privateJwk, key_ops: Array.from({ length: 100_000 }, () => 'sign') } },
      { ...good, privateJwk: { ...good.privateJwk, x: ['not', 'a', 'string'] } },
      // Well-formed, but not a key the platform takes.
      { ...good, privateJwk: { ...good.privateJwk, d: 'AAAA', x: 'AAAA', y: 'AAAA' }, publicJwk: { ...good.publicJwk, x: 'AAAA', y: 'AAAA' } },
      { ...good, algorithm: 'EdDSA' },
    ];
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      for (const dpopKey of hostile) {
        const snapshot = JSON.stringify({ ...saved, dpopKey });
        let resumed: OAuth2DeviceAuthorizationFlow;
        try {
          resumed = new OAuth2DeviceAuthorizationFlow({ ...optionsFor(server), snapshot });
        } catch (error) {
          expect(error).toBeInstanceOf(DeviceFlowError);
          expect((error as DeviceFlowError).code).toBe('ClientError');
          expect((error as DeviceFlowError).message.length).toBeLessThan(1_000);
          expect((error as DeviceFlowError).message).not.toMatch(/[\u0000-\u001f\u007f]/);
          expect((error as DeviceFlowError).message).not.toContain(good.privateJwk.d);
          continue;
        }
        // Taken as a key pair, it may sit unused for hours (a granted flow waits for its refresh): nothing must come
        // of it meanwhile. Then the first request that needs it says it is none, as a ClientError, and nothing is sent.
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(unhandled).toEqual([]);
        const requests = proxy.hops.length;
        const failed = nextSignal(resumed, 'requestFailed');
        resumed.tokenUrl = `${proxy.origin}/token`;
        resumed.refreshToken = 'a-refresh-token-that-must-not-leak';
        resumed.refreshTokens();
        const [error] = await failed;
        expect(error.code).toBe('ClientError');
        expect(error.message).toMatch(/DPoP key/);
        expect(error.message).not.toContain(good.privateJwk.d);
        expect(error.message).not.toContain('a-refresh-token-that-must-not-leak');
        expect(proxy.hops.length).toBe(requests);
        resumed.dispose();
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('inspection', () => {
  it('shows no token, device code, DPoP proof or key of a DPoP grant with ID token validation', async () => {
    const keyPair = await generateDpopKeyPair('ES256', { extractable: true });
    const discovered = await discover(server.issuer);
    const sanitize = createInspectionSanitizer();
    const raw: InspectionEvent[] = [];
    const shown: string[] = [];
    const options = optionsFor(server, proxy, {
      issuer: discovered.issuer,
      jwksUrl: discovered.jwksUrl,
      dpopKeyPair: keyPair,
      inspect: (event) => {
        raw.push(event);
        shown.push(JSON.stringify(sanitize(event)));
      },
    });
    const flow = new OAuth2DeviceAuthorizationFlow(options);
    const before = proxy.hops.length;
    expect(await grant(flow, options.clock, server)).toBeNull();
    expect(await refresh(flow)).toBeNull();
    expect(flow.idTokenClaims).toMatchObject({ iss: server.issuer });
    expect(flow.tokenType).toBe('DPoP');

    // The grant's tokens were held under validation, where the inspector saw them.
    const held = raw.flatMap((event) =>
      event.type === '@xstate.snapshot' ? [(event.snapshot as { context?: { receivedTokens?: { accessToken: string } | null } }).context?.receivedTokens] : [],
    );
    expect(held.some((tokens) => tokens != null && tokens.accessToken.length > 0)).toBe(true);

    const hops = proxy.hops.slice(before);
    const secrets = [
      ...hops.flatMap((hop) => {
        try {
          const body = JSON.parse(hop.body) as Record<string, unknown>;
          return ['access_token', 'refresh_token', 'id_token', 'device_code'].flatMap((member) => (typeof body[member] === 'string' ? [body[member]] : []));
        } catch {
          return [];
        }
      }),
      ...hops.flatMap((hop) => (hop.proof === undefined ? [] : [hop.proof, hop.proof.split('.')[2]!])),
      (await crypto.subtle.exportKey('jwk', keyPair.privateKey)).d!,
    ];
    expect(secrets.length).toBeGreaterThanOrEqual(9);
    const stream = shown.join('\n');
    expect(stream).toContain('[redacted]');
    for (const secret of secrets) expect(stream).not.toContain(secret);
    flow.dispose();
  });
});
