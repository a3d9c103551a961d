/**
 * A confidential client with client_secret_basic against a server that behaves as Authlib up to 1.6 does
 * (authlib/authlib#798): it files the device code under the `client_id` of the device authorization request's form,
 * and at each poll compares that with the client the Basic header authenticated, answering `unauthorized_client` when
 * they differ. RFC 6749 §3.2.1 lets the client name itself in the form as well, which is what makes this work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../helpers/loopbackServer.js';
import { LoopbackServer } from '../helpers/loopbackServer.js';
import { createTestFlow, nextSignal } from '../helpers/flowHarness.js';

const CLIENT = { id: 'tv-app', secret: 'authlib-secret-1' };

/** The client a request authenticates as, Authlib's way: the Basic header, else client_id and client_secret in the form. */
function authenticatedClient(request: RecordedRequest): string | null {
  const basic = /^Basic (.+)$/.exec(request.headers.authorization ?? '');
  const [id, secret] = basic
    ? Buffer.from(basic[1]!, 'base64').toString().split(':').map((part) => decodeURIComponent(part.replace(/\+/g, ' ')))
    : [request.params.get('client_id'), request.params.get('client_secret')];
  return id === CLIENT.id && secret === CLIENT.secret ? id : null;
}

let server: LoopbackServer;
let approved = false;
/** Device codes, by code, with the client_id they were filed under. */
const codes = new Map<string, string | null>();

beforeAll(async () => {
  server = await LoopbackServer.start();
  server.handle('/device', (request) => {
    if (authenticatedClient(request) === null) return { status: 401, json: { error: 'invalid_client' } };
    const deviceCode = `device-code-${codes.size + 1}`;
    // Authlib: `client_id = request.form.get('client_id')`, whatever authenticated the request.
    codes.set(deviceCode, request.params.get('client_id'));
    return { json: { device_code: deviceCode, user_code: 'WDJB-MJHT', verification_uri: 'https://as.example/device', expires_in: 600, interval: 5 } };
  });
  server.handle('/token', (request) => {
    const client = authenticatedClient(request);
    if (client === null) return { status: 401, json: { error: 'invalid_client' } };
    const filedUnder = codes.get(request.params.get('device_code') ?? '');
    if (filedUnder === undefined) return { status: 400, json: { error: 'invalid_grant' } };
    if (filedUnder !== client) return { status: 400, json: { error: 'unauthorized_client' } };
    return approved ? { json: { access_token: 'access-token-1', token_type: 'Bearer', expires_in: 3600 } } : { status: 400, json: { error: 'authorization_pending' } };
  });
});
afterAll(() => server.close());

describe('client_secret_basic against a server that files device codes by the form client_id (Authlib ≤ 1.6)', () => {
  it('polls and is granted: client_id travels in the form beside the Basic header', async () => {
    const { flow, clock } = createTestFlow(server, { clientIdentifier: CLIENT.id, clientIdentifierSharedKey: CLIENT.secret, clientAuthentication: 'client_secret_basic' });
    const failures: string[] = [];
    flow.on('requestFailed', (error) => failures.push(`${error.code}: ${error.error ?? error.message}`));
    flow.grant();
    await nextSignal(flow, 'authorizeWithUserCode');
    // The first poll's answer: authorization_pending (a new poll is scheduled), or the refusal this test is about.
    const answered = Promise.race([nextSignal(flow, 'nextPollAtChanged'), nextSignal(flow, 'requestFailed')]);
    clock.increment(5_000);
    await answered;
    expect(failures).toEqual([]);
    approved = true;
    clock.increment(5_000);
    await nextSignal(flow, 'granted');
    expect(failures).toEqual([]);
    expect(flow.token).toBe('access-token-1');
    for (const request of server.requests) {
      expect(request.headers.authorization).toBe(`Basic ${btoa(`${CLIENT.id}:${CLIENT.secret}`)}`);
      expect([request.params.get('client_id'), request.params.has('client_secret')]).toEqual([CLIENT.id, false]);
    }
    flow.dispose();
  });
});
