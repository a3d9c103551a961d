import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverEndpoints } from '../../src/cli/discovery.js';
import { EXIT_CODES, outcomeOf } from '../../src/cli/exitCodes.js';
import { PRESETS, presetEndpoints } from '../../src/cli/presets.js';
import { formatDuration, jsonLine, redactToken, terminalSafe, tokenSummary } from '../../src/cli/terminal.js';
import { DeviceFlowError } from '../../src/core/errors.js';
import { rejectionOf } from '../helpers/expectError.js';
import { hugeBody, LoopbackServer } from '../helpers/loopbackServer.js';

describe('terminal output', () => {
  it('shortens tokens to their first and last four characters, hiding short ones whole', () => {
    expect(redactToken('gho_16C7e42F292c6912E7710c838347Ae178B4a')).toBe('gho_…8B4a');
    expect(redactToken('short-token')).toBe('****');
    expect(redactToken('')).toBe('(none)');
  });

  it('formats countdowns', () => {
    expect([formatDuration(0), formatDuration(999), formatDuration(90_000), formatDuration(3_725_000), formatDuration(-5)]).toEqual([
      '0:00',
      '0:01',
      '1:30',
      '1:02:05',
      '0:00',
    ]);
  });

  it('summarises a grant without a whole token', () => {
    const tokens = { accessToken: 'a'.repeat(40), refreshToken: 'r'.repeat(40), idToken: '', expiresAt: new Date(90_000), scope: ['read'], extraTokens: {} };
    const summary = tokenSummary(tokens, 0);
    expect(summary).toBe('Signed in.\n  access token   aaaa…aaaa\n  expires        1970-01-01T00:01:30.000Z (in 1:30)\n  refresh token  rrrr…rrrr\n  scope          read\n');
  });
});

describe('exit codes', () => {
  it.each([
    [new DeviceFlowError('ServerError', 'x', { error: 'access_denied' }), 'denied'],
    [new DeviceFlowError('ServerError', 'x', { error: 'authorization_declined' }), 'denied'],
    [new DeviceFlowError('ExpiredError', 'x'), 'expired'],
    [new DeviceFlowError('NetworkError', 'x'), 'network'],
    [new DeviceFlowError('ClientError', 'x'), 'configuration'],
    [new DeviceFlowError('ServerError', 'x', { error: 'invalid_client' }), 'configuration'],
    [new DeviceFlowError('ServerError', 'x', { error: 'device_flow_disabled' }), 'configuration'],
    [new DeviceFlowError('ServerError', 'x', { status: 502 }), 'serverError'],
    [new DeviceFlowError('OAuthTokenNotFoundError', 'x'), 'serverError'],
    [new Error('bug'), 'serverError'],
  ] as const)('%s → %s', (error, outcome) => {
    expect(outcomeOf(error)).toBe(outcome);
  });

  it('gives every outcome its own code', () => {
    expect(new Set(Object.values(EXIT_CODES)).size).toBe(Object.keys(EXIT_CODES).length);
  });
});

describe('provider presets', () => {
  it('fill in the Microsoft tenant', () => {
    expect(presetEndpoints(PRESETS.microsoft, undefined).authorizationUrl).toBe('https://login.microsoftonline.com/organizations/oauth2/v2.0/devicecode');
    expect(presetEndpoints(PRESETS.microsoft, 'contoso.onmicrosoft.com').tokenUrl).toBe('https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token');
    expect(presetEndpoints(PRESETS.github, 'ignored').authorizationUrl).toBe('https://github.com/login/device/code');
  });

  it('use https endpoints only', () => {
    for (const preset of Object.values(PRESETS)) {
      expect(new URL(preset.deviceAuthorizationUrl.replace('{tenant}', 't')).protocol).toBe('https:');
      expect(new URL(preset.tokenUrl.replace('{tenant}', 't')).protocol).toBe('https:');
    }
  });
});

describe('discovery', () => {
  let server: LoopbackServer;
  beforeAll(async () => {
    server = await LoopbackServer.start();
  });
  afterAll(() => server.close());

  it('falls back to RFC 8414, inserting the well-known path before the issuer path', async () => {
    const issuer = server.url('/tenant-a');
    server.handle('/.well-known/oauth-authorization-server/tenant-a', {
      json: { issuer, device_authorization_endpoint: server.url('/tenant-a/device'), token_endpoint: server.url('/tenant-a/token') },
    });
    await expect(discoverEndpoints(issuer)).resolves.toEqual({ issuer, authorizationUrl: server.url('/tenant-a/device'), tokenUrl: server.url('/tenant-a/token') });
    expect(server.requests.map((request) => request.path)).toEqual(['/tenant-a/.well-known/openid-configuration', '/.well-known/oauth-authorization-server/tenant-a']);
  });

  it('refuses metadata that names another issuer', async () => {
    server.handle('/evil/.well-known/openid-configuration', {
      json: { issuer: 'https://attacker.example', device_authorization_endpoint: 'https://attacker.example/d', token_endpoint: 'https://attacker.example/t' },
    });
    const error = await rejectionOf(discoverEndpoints(server.url('/evil')));
    expect(error).toMatchObject({ code: 'ClientError', message: expect.stringMatching(/names the issuer "https:\/\/attacker.example"/) });
  });

  it('fails with a one-line ClientError naming each URL and its status when there is no metadata', async () => {
    server.handle('/nothing/.well-known/openid-configuration', { status: 404, headers: { 'content-type': 'text/html' }, body: 'nope' });
    server.handle('/.well-known/oauth-authorization-server/nothing', { status: 404, headers: { 'content-type': 'text/html; charset=utf-8' }, body: 'nope' });
    const error = await rejectionOf(discoverEndpoints(server.url('/nothing')));
    expect(error).toMatchObject({
      code: 'ClientError',
      message: `Could not read the metadata of ${server.url('/nothing')}: ${server.url('/nothing/.well-known/openid-configuration')} answered HTTP 404 (text/html); ${server.url('/.well-known/oauth-authorization-server/nothing')} answered HTTP 404 (text/html)`,
    });
  });

  it('reads metadata with the body cap and timeout of every request: a huge document fails at once, its connection closed', async () => {
    const huge = hugeBody(300 * 1024 * 1024);
    server.handle('/huge/.well-known/openid-configuration', huge.handler);
    server.handle('/.well-known/oauth-authorization-server/huge', { status: 404 });
    const error = await rejectionOf(discoverEndpoints(server.url('/huge')));
    expect(error).toMatchObject({ code: 'ServerError', message: expect.stringContaining('larger than 1048576 bytes') });
    expect(await huge.written).toBeLessThan(16 * 1024 * 1024);
    server.handle('/slow/.well-known/openid-configuration', () => 'handled');
    server.handle('/.well-known/oauth-authorization-server/slow', () => 'handled');
    const slow = await rejectionOf(discoverEndpoints(server.url('/slow'), { requestTimeout: 200 }));
    expect(slow).toMatchObject({ code: 'NetworkError', message: expect.stringMatching(/No complete answer from .* within 0.2 s; No complete answer/) });
  });

  it('names the reason when nothing answers, such as a name that does not resolve (ENOTFOUND)', async () => {
    // What Node's fetch rejects with for a name the resolver does not know, without asking a resolver.
    const unresolvable = async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND as.example'), { code: 'ENOTFOUND' }) });
    };
    const error = await rejectionOf(discoverEndpoints('https://as.example', { fetch: unresolvable }));
    expect(error).toMatchObject({
      code: 'NetworkError',
      message:
        'Could not read the metadata of https://as.example: The request to https://as.example/.well-known/openid-configuration failed (ENOTFOUND); The request to https://as.example/.well-known/oauth-authorization-server failed (ENOTFOUND)',
    });
  });
});

describe('terminalSafe and jsonLine', () => {
  it("keeps the CLI's own bold and clear-line sequences and line breaks, and turns every other control into a space", () => {
    expect(terminalSafe('\x1b[1mcode\x1b[22m\r\x1b[2K\n')).toBe('\x1b[1mcode\x1b[22m\r\x1b[2K\n');
    expect(terminalSafe('a\x1b[31mb\u009b2Jc\u202ed\u2066e\u200ff\u0007')).toBe('a [31mb 2Jc d e f ');
  });

  it('escapes in JSON what JSON.stringify leaves raw, so that the value survives the filter', () => {
    const value = { message: 'x\u009by\u202ez\u2028' };
    const line = jsonLine(value);
    expect(line).toBe('{"message":"x\\u009by\\u202ez\\u2028"}\n');
    expect(terminalSafe(line)).toBe(line);
    expect(JSON.parse(line)).toEqual(value);
  });
});
