/**
 * KeySets: an issuer's JSON Web Key Set, fetched from a real HTTP server on 127.0.0.1 when first needed, kept, fetched
 * again only when a token names a key it lacks (at once the first time, then once a minute at most), and refused
 * when what comes back is not a key set.
 */
import { createServer } from 'node:net';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeviceFlowError } from '../../src/core/errors.js';
import { KEY_SET_REFETCH_INTERVAL_MS, KeySets } from '../../src/http/idTokenValidation.js';
import { rejectionOf } from '../helpers/expectError.js';
import { LoopbackServer } from '../helpers/loopbackServer.js';

const T0 = Date.UTC(2030, 0, 1);
const transport = () => ({ signal: new AbortController().signal, timeout: 5_000, maxResponseBytes: 1024 * 1024 });

let server: LoopbackServer;
let key: { kid: string; privateKey: CryptoKey; jwk: Record<string, unknown> };
beforeAll(async () => {
  server = await LoopbackServer.start();
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  key = { kid: 'key-1', privateKey, jwk: { ...(await exportJWK(publicKey)), kid: 'key-1', alg: 'ES256', use: 'sig' } };
});
afterAll(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
  server.handle('/jwks', { json: { keys: [key.jwk] }, headers: { 'content-type': 'application/jwk-set+json' } });
});

const fetches = () => server.requestsTo('/jwks').length;
const signed = () => new SignJWT({ sub: 'user' }).setProtectedHeader({ alg: 'ES256', kid: key.kid }).sign(key.privateKey);

describe('caching', () => {
  it('fetches the key set once, then answers from the cache', async () => {
    const keySets = new KeySets();
    const first = await keySets.get(server.url('/jwks'), transport(), T0);
    expect(first.fetched).toBe(true);
    expect(first.fetchedAt).toBe(T0);
    const request = server.requestsTo('/jwks')[0]!;
    expect(request.method).toBe('GET');
    expect(request.headers.accept).toMatch(/application\/jwk-set\+json/);
    // The keys verify a token the key signed.
    expect((await jwtVerify(await signed(), first.keys)).payload.sub).toBe('user');

    for (const at of [T0 + 1, T0 + KEY_SET_REFETCH_INTERVAL_MS * 10]) {
      const again = await keySets.get(server.url('/jwks'), transport(), at);
      expect(again.fetched).toBe(false);
      expect(again.keys).toBe(first.keys);
    }
    expect(fetches()).toBe(1);
  });

  it('keeps one set per URL, and none between flows', async () => {
    const keySets = new KeySets();
    await keySets.get(server.url('/jwks'), transport(), T0);
    await keySets.get(server.url('/jwks?tenant=2'), transport(), T0);
    await keySets.get(server.url('/jwks'), transport(), T0);
    expect(fetches()).toBe(2);
    await new KeySets().get(server.url('/jwks'), transport(), T0);
    expect(fetches()).toBe(3);
  });
});

describe('fetching again for an unknown kid', () => {
  it('fetches at once the first time, then not again within a minute, by the time given', async () => {
    const keySets = new KeySets();
    await keySets.get(server.url('/jwks'), transport(), T0);
    // A rotation seconds after the first fetch: the new key is fetched at once.
    const refreshed = await keySets.get(server.url('/jwks'), transport(), T0 + 5_000, true);
    expect(refreshed).toMatchObject({ fetched: true, fetchedAt: T0 + 5_000 });
    expect(fetches()).toBe(2);

    const heldBack = await keySets.get(server.url('/jwks'), transport(), T0 + 5_000 + KEY_SET_REFETCH_INTERVAL_MS - 1, true);
    expect(heldBack).toMatchObject({ fetched: false, fetchedAt: T0 + 5_000 });
    expect(heldBack.keys).toBe(refreshed.keys);
    expect(fetches()).toBe(2);

    const minuteOn = await keySets.get(server.url('/jwks'), transport(), T0 + 5_000 + KEY_SET_REFETCH_INTERVAL_MS, true);
    expect(minuteOn.fetched).toBe(true);
    expect(fetches()).toBe(3);
    // And held back again for the next minute.
    expect((await keySets.get(server.url('/jwks'), transport(), T0 + 5_000 + KEY_SET_REFETCH_INTERVAL_MS + 1_000, true)).fetched).toBe(false);
    expect(fetches()).toBe(3);
  });

  it('is not held back by a refetch that, by a clock set back since, lies in the future', async () => {
    const keySets = new KeySets();
    await keySets.get(server.url('/jwks'), transport(), T0);
    await keySets.get(server.url('/jwks'), transport(), T0 + 5_000, true);
    expect((await keySets.get(server.url('/jwks'), transport(), T0 - 3_600_000, true)).fetched).toBe(true);
    expect(fetches()).toBe(3);
  });

  it('counts a refetch that failed, and keeps the set it had', async () => {
    const keySets = new KeySets();
    const first = await keySets.get(server.url('/jwks'), transport(), T0);
    server.queue('/jwks', { status: 503, body: 'down' });
    const error = await rejectionOf(keySets.get(server.url('/jwks'), transport(), T0 + 1_000, true));
    expect(error).toMatchObject({ code: 'ServerError', status: 503 });
    // Not asked again within the minute; the set fetched before still answers.
    const after = await keySets.get(server.url('/jwks'), transport(), T0 + 2_000, true);
    expect(after).toMatchObject({ fetched: false });
    expect(after.keys).toBe(first.keys);
    expect(fetches()).toBe(2);
  });
});

describe('what is not a key set', () => {
  it.each([
    ['a 404', { status: 404, json: { error: 'not_found' } }, /answered HTTP 404/],
    ['a 500', { status: 500, body: 'Internal Server Error' }, /answered HTTP 500/],
    ['a redirect', { status: 302, headers: { location: 'https://elsewhere.example/jwks' }, body: '' }, /^The issuer's key set could not be fetched: .*redirect \(HTTP 302 to https:\/\/elsewhere\.example\)/],
    ['an object without keys', { json: { issuer: 'https://as.example' } }, /no keys array/],
    ['keys that are not an array', { json: { keys: { kty: 'EC' } } }, /no keys array/],
    ['keys that are not objects', { json: { keys: [1, 'two'] } }, /not a JSON Web Key Set/],
    ['an HTML page', { body: '<!doctype html><title>Login</title>', headers: { 'content-type': 'text/html' } }, /neither JSON nor form-encoded/],
    ['malformed JSON', { body: '{"keys": [', headers: { 'content-type': 'application/json' } }, /malformed JSON/],
    ['JSON nested too deep', { body: `{"keys": [${'['.repeat(40)}${']'.repeat(40)}]}`, headers: { 'content-type': 'application/json' } }, /nests objects and arrays deeper than 32 levels/],
    ['an empty body', { body: '', headers: { 'content-type': 'application/json' } }, /empty/],
  ])('refuses %s with ServerError, and caches nothing', async (_case, reply, message) => {
    server.handle('/jwks', reply);
    const keySets = new KeySets();
    const error = await rejectionOf(keySets.get(server.url('/jwks'), transport(), T0));
    expect(error).toBeInstanceOf(DeviceFlowError);
    expect(error.code).toBe('ServerError');
    expect(error.message).toMatch(message);
    // The next validation asks again: a failure is not kept as the key set.
    await rejectionOf(keySets.get(server.url('/jwks'), transport(), T0 + 1));
    expect(fetches()).toBe(2);
  });

  it('fails with NetworkError, naming the key set, when nothing answers', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise((resolve) => closed.close(resolve));
    const error = await rejectionOf(new KeySets().get(`http://127.0.0.1:${port}/jwks`, transport(), T0));
    expect(error.code).toBe('NetworkError');
    expect(error.message).toMatch(/^The issuer's key set could not be fetched/);
  });

  it('gives up on a body larger than the cap', async () => {
    server.handle('/jwks', { json: { keys: [key.jwk], padding: 'x'.repeat(10_000) } });
    const error = await rejectionOf(new KeySets().get(server.url('/jwks'), { ...transport(), maxResponseBytes: 1_000 }, T0));
    expect(error.code).toBe('ServerError');
  });
});
