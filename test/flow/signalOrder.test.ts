import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestFlow, deviceAuthorizationReply, nextSignal, pending, tokenReply } from '../helpers/flowHarness.js';
import { LoopbackServer } from '../helpers/loopbackServer.js';
import { T0 } from '../helpers/machineHarness.js';

let server: LoopbackServer;
beforeAll(async () => {
  server = await LoopbackServer.start();
});
afterAll(() => server.close());

/** The signal order of docs/qt-behaviour.md ("The user code", "Tokens"), for a first grant with an openid scope. */
const QT_ORDER = [
  // grant(): the reset changes nothing on a new flow; the nonce is generated.
  'nonceChanged',
  // the authorization reply
  'userCodeExpirationAtChanged',
  'userCodeChanged',
  'verificationUrlChanged',
  'completeVerificationUrlChanged',
  'extraTokensChanged',
  'statusChanged',
  'authorizeWithUserCode',
  'pollingChanged',
  // the token reply
  'refreshTokenChanged',
  'tokenChanged',
  'grantedScopeTokensChanged',
  'idTokenChanged',
  'expirationAtChanged',
  'extraTokensChanged',
  'statusChanged',
  'granted',
  'pollingChanged',
];

describe('the signals of a full grant', () => {
  it("come in Qt's order, with Qt's arguments", async () => {
    server.handle('/device', deviceAuthorizationReply({ message: 'Enter WDJB-MJHT at example.com' }));
    server.queue('/token', pending);
    server.handle('/token', tokenReply({ scope: 'openid read', id_token: 'id-token-1', ext_expires_in: 7200 }));
    const { flow, clock, recorder } = createTestFlow(server, { requestedScopeTokens: ['openid', 'read'] });

    flow.grant();
    await nextSignal(flow, 'authorizeWithUserCode');
    clock.increment(5_000);
    await nextSignal(flow, 'nextPollAtChanged');
    clock.increment(5_000);
    await nextSignal(flow, 'granted');

    // nextPollAtChanged (for countdowns) and tokenTypeChanged (Bearer or DPoP) are this package's additions, the latter
    // among the token properties, before the status; everything else is Qt's list, in Qt's order.
    const ours = new Set(['nextPollAtChanged', 'tokenTypeChanged']);
    expect(recorder.names().filter((name) => !ours.has(name))).toEqual(QT_ORDER);
    const names = recorder.names();
    expect(names.indexOf('tokenTypeChanged')).toBe(names.lastIndexOf('extraTokensChanged') + 1);

    const args = (name: string) => recorder.signals.filter((signal) => signal.name === name).map((signal) => signal.args);
    expect(args('authorizeWithUserCode')).toEqual([
      [new URL('https://example.com/device'), 'WDJB-MJHT', new URL('https://example.com/device?user_code=WDJB-MJHT')],
    ]);
    expect(args('userCodeExpirationAtChanged')).toEqual([[new Date(T0 + 1_800_000)]]);
    expect(args('statusChanged')).toEqual([['TemporaryCredentialsReceived'], ['Granted']]);
    expect(args('pollingChanged')).toEqual([[true], [false]]);
    expect(args('extraTokensChanged')).toEqual([
      [{ message: 'Enter WDJB-MJHT at example.com' }],
      [{ message: 'Enter WDJB-MJHT at example.com', ext_expires_in: 7200 }],
    ]);
    expect(args('grantedScopeTokensChanged')).toEqual([[['openid', 'read']]]);
    expect(args('expirationAtChanged')).toEqual([[new Date(T0 + 10_000 + 3_600_000)]]);
    expect(args('tokenChanged')).toEqual([['access-token-1']]);
    expect(args('idTokenChanged')).toEqual([['id-token-1']]);
    expect(args('nextPollAtChanged')).toEqual([[new Date(T0 + 5_000)], [new Date(T0 + 10_000)], [null]]);
    flow.dispose();
  });
});
