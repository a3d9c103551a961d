/**
 * Secret hygiene: a distinct secret is planted in every secret field (access, refresh and ID tokens, device code,
 * client secret), a server echoes them back in its error descriptions, a modifier quotes them in its exception, and
 * every output a developer could print is searched for all of them.
 */
import { Console } from 'node:console';
import { PassThrough } from 'node:stream';
import { format, inspect } from 'node:util';
import type { InspectionEvent } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceFlowError } from '../../src/core/errors.js';
import { OAuth2DeviceAuthorizationFlow } from '../../src/flow/oauth2DeviceAuthorizationFlow.js';
import { createInspectionSanitizer } from '../../src/core/inspection.js';
import { createTestFlow, nextSignal } from '../helpers/flowHarness.js';
import { LoopbackServer } from '../helpers/loopbackServer.js';
import { DEFAULT_TRANSPORTS, givenNoFetchUse } from '../helpers/transports.js';

// Characters that encodings change, as real secrets have them: Azure client secrets (`~`), Google refresh tokens (`1//`).
const SECRETS = {
  accessToken: 'AccessTokenSecret-7f3a9c1e',
  refreshToken: '1//RefreshTokenSecret-2b8d4e6f',
  idToken: 'IdTokenSecret-9a1c3e5g',
  deviceCode: 'DeviceCodeSecret+4h6j8k0m',
  clientSecret: 'Client~Secret/1q3w=5e7r "x"',
};
/** Each secret as sent, and as a server could echo it: percent-encoded, form-encoded, JSON-escaped. */
const ALL = Object.values(SECRETS).flatMap((secret) => [
  secret,
  encodeURIComponent(secret),
  new URLSearchParams({ s: secret }).toString().slice(2),
  JSON.stringify(secret).slice(1, -1),
]);

/** What `console.error(value)` prints. */
function consoleErrorOf(value: unknown): string {
  const stream = new PassThrough();
  new Console({ stdout: stream, stderr: stream }).error(value);
  return String(stream.read() ?? '');
}

/** Every way a developer could print `error`. */
function printed(error: unknown): string[] {
  return [inspect(error, { depth: Infinity }), inspect(error, { depth: Infinity, showHidden: true }), JSON.stringify(error), consoleErrorOf(error), String(error)];
}
/** What a hostile server, or a careless modifier, puts in an error: every secret the flow holds at that moment. */
const quoting = (...secrets: string[]) => `leaking ${secrets.join(' and ')}`;

let server: LoopbackServer;
beforeAll(async () => {
  server = await LoopbackServer.start();
  server.handle('/device', { json: { device_code: SECRETS.deviceCode, user_code: 'ABCD-EFGH', verification_uri: 'https://example.com/device', expires_in: 600, interval: 5 } });
});
afterAll(() => server.close());

describe.each(DEFAULT_TRANSPORTS)('secrets, given no fetch: %s', (_name, transport) => {
  givenNoFetchUse(transport);

  it('appear in no error message, serialised error, flow summary, log line or sanitised inspection event', async () => {
    const errors: DeviceFlowError[] = [];
    const inspection: InspectionEvent[] = [];
    const { flow, clock } = createTestFlow(server, {
      clientIdentifierSharedKey: SECRETS.clientSecret,
      token: SECRETS.accessToken,
      refreshToken: SECRETS.refreshToken,
      requestedScopeTokens: ['openid'],
      inspect: (event) => inspection.push(event),
    });
    flow.on('requestFailed', (error) => errors.push(error));
    const outputs: string[] = [];
    const capture = () => outputs.push(inspect(flow, { depth: 10 }), format('%o', flow), JSON.stringify(flow), String(flow));

    // 1. A poll answered with an error quoting the tokens, the device code and the client secret; 2. a grant that adds
    // the ID token; 3. a refresh refused the same way; 4. a modifier that throws with the secrets in its message.
    const whilePolling = quoting(SECRETS.accessToken, SECRETS.refreshToken, SECRETS.deviceCode, SECRETS.clientSecret);
    const afterGrant = quoting(SECRETS.accessToken, SECRETS.refreshToken, SECRETS.idToken, SECRETS.clientSecret);
    server.queue('/token', { status: 400, json: { error: 'invalid_grant', error_description: whilePolling, error_uri: `https://as/${SECRETS.deviceCode}` } });
    flow.grant();
    await nextSignal(flow, 'authorizeWithUserCode');
    capture();
    clock.increment(5_000);
    await nextSignal(flow, 'requestFailed');
    capture();

    // A server that echoes the form it received: the device code and client secret, form-encoded.
    server.handle('/token', (request) => ({ status: 400, json: { error: 'invalid_request', error_description: `got ${request.body}` } }));
    flow.startTokenPolling();
    clock.increment(5_000);
    await nextSignal(flow, 'requestFailed');
    capture();

    server.queue('/token', { json: { access_token: SECRETS.accessToken, refresh_token: SECRETS.refreshToken, id_token: SECRETS.idToken, scope: 'openid', expires_in: 3600 } });
    flow.startTokenPolling();
    clock.increment(5_000);
    await nextSignal(flow, 'granted');
    capture();

    server.queue('/token', { status: 400, json: { error: 'invalid_grant', error_description: afterGrant } });
    flow.refreshTokens();
    await nextSignal(flow, 'requestFailed');

    flow.networkRequestModifier = () => {
      throw new Error(`signing failed for ${afterGrant}`);
    };
    flow.refreshTokens();
    await nextSignal(flow, 'requestFailed');
    capture();

    expect(errors.map((error) => error.code)).toEqual(['ServerError', 'ServerError', 'ServerError', 'ClientError']);
    expect(errors[1]!.errorDescription).toMatch(/device_code=\[redacted\]&client_id=tv-app&client_secret=\[redacted\]$/);
    for (const error of errors) {
      outputs.push(error.message, JSON.stringify(error), inspect(error, { depth: 10 }), format('%s %o', error, error), String(error.cause ?? ''));
    }
    const sanitize = createInspectionSanitizer();
    outputs.push(JSON.stringify(inspection.map((event) => sanitize(event))));
    const leaks = ALL.filter((secret) => outputs.some((output) => output.includes(secret)));
    expect(leaks).toEqual([]);

    // The outputs are not empty: they say what happened.
    expect(outputs.join('\n')).toMatch(/\[redacted\]/);
    expect(inspect(flow)).toMatch(/^OAuth2DeviceAuthorizationFlow \{\n? *status: 'Granted'/);
    expect(JSON.parse(JSON.stringify(flow))).toMatchObject({ status: 'Granted', hasToken: true, hasRefreshToken: true, hasIdToken: true, userCode: 'ABCD-EFGH' });
    flow.dispose();
  });

  it('stay out of the causes of reported errors, whatever a throwing modifier or fetch attached to them', async () => {
    const { flow, clock } = createTestFlow(server, { clientIdentifierSharedKey: SECRETS.clientSecret });
    const failures: DeviceFlowError[] = [];
    const faults: DeviceFlowError[] = [];
    flow.on('requestFailed', (error) => failures.push(error));
    flow.on('transientError', (error) => faults.push(error));
    server.handle('/token', { status: 400, json: { error: 'authorization_pending' } });
    flow.grant();
    await nextSignal(flow, 'authorizeWithUserCode');

    // A parameter modifier whose error carries the form as an own property.
    flow.modifyParametersFunction = (stage, parameters) => {
      if (stage === 'RequestingAccessToken') throw Object.assign(new Error('cannot add resource'), { requestBody: parameters.toString() });
    };
    clock.increment(5_000);
    await nextSignal(flow, 'requestFailed');

    // A request modifier whose error has a plain object holding the parameters as its cause.
    flow.modifyParametersFunction = null;
    flow.networkRequestModifier = (request) => {
      throw new Error('cannot sign', { cause: { url: request.url, form: new URLSearchParams({ device_code: SECRETS.deviceCode, client_secret: SECRETS.clientSecret }) } });
    };
    flow.startTokenPolling();
    clock.increment(5_000);
    await nextSignal(flow, 'requestFailed');

    // A fetch that fails with an AggregateError whose errors carry the body: a transport fault, ridden out.
    flow.networkRequestModifier = null;
    flow.fetch = async (_url, init) => {
      throw new AggregateError([Object.assign(new Error('proxy refused'), { body: String(init.body) }), new Error(`retry with ${String(init.body)}`)], 'all proxies failed');
    };
    flow.startTokenPolling();
    clock.increment(5_000);
    await nextSignal(flow, 'transientError');

    expect(failures.map((error) => error.code)).toEqual(['ClientError', 'ClientError']);
    expect(faults.map((error) => error.code)).toEqual(['NetworkError']);
    const outputs = [...failures, ...faults].flatMap(printed);
    expect(ALL.filter((secret) => outputs.some((output) => output.includes(secret)))).toEqual([]);
    // Still useful: what was thrown, and where.
    expect(failures[0]!.cause).toMatchObject({ name: 'Error', message: 'cannot add resource' });
    expect((failures[0]!.cause as Error).stack).toMatch(/cannot add resource\n\s+at /);
    expect(failures[1]!.cause).toMatchObject({ message: 'cannot sign', cause: { message: 'A value of type Object was thrown' } });
    expect(faults[0]!.cause).toMatchObject({ name: 'AggregateError', message: 'all proxies failed', errors: [{ message: 'proxy refused' }, { message: expect.stringContaining('[redacted]') }] });
    flow.dispose();
  });

  it('are still readable where the application asks for them', async () => {
    const flow = new OAuth2DeviceAuthorizationFlow({ token: SECRETS.accessToken, clientIdentifierSharedKey: SECRETS.clientSecret });
    expect([flow.token, flow.clientIdentifierSharedKey]).toEqual([SECRETS.accessToken, SECRETS.clientSecret]);
    flow.dispose();
  });
});
