/**
 * `--inspect`: the Stately inspector relay listens on 127.0.0.1 only, receives the flow's inspection events, and none
 * of them carries a token, the device code or the client secret.
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { freeLoopbackPort, startInspectorRelay } from '../../src/node/inspectorRelay.js';
import { documentedJson, startCli } from '../helpers/cli.js';
import { LoopbackServer } from '../helpers/loopbackServer.js';

const SECRETS = {
  deviceCode: 'DEVICE-CODE-SECRET-0123456789',
  accessToken: 'ACCESS-TOKEN-SECRET-0123456789',
  refreshToken: 'REFRESH-TOKEN-SECRET-0123456789',
  idToken: 'ID-TOKEN-SECRET-0123456789',
  clientSecret: 'CLIENT-SECRET-0123456789',
};

describe('device-flow --inspect', () => {
  it('relays sanitised inspection events on 127.0.0.1 only, and exits even with an inspector connected', async () => {
    const server = await LoopbackServer.start();
    let approved = false;
    server.handle('/device', { json: { device_code: SECRETS.deviceCode, user_code: 'ABCD-EFGH', verification_uri: 'https://example.com/device', expires_in: 600, interval: 1 } });
    server.handle('/token', () =>
      approved
        ? { json: { access_token: SECRETS.accessToken, refresh_token: SECRETS.refreshToken, id_token: SECRETS.idToken, expires_in: 3600, scope: 'openid' } }
        : { status: 400, json: { error: 'authorization_pending' } },
    );
    // Browser openers that leave a mark: the relay must open no browser.
    const bin = await mkdtemp(join(tmpdir(), 'device-flow-bin-'));
    const opened = join(bin, 'opened');
    for (const opener of ['xdg-open', 'open', 'sensible-browser', 'x-www-browser']) {
      await writeFile(join(bin, opener), `#!/bin/sh\necho "$@" >> ${opened}\n`, { mode: 0o755 });
    }
    const cli = startCli(
      ['login', '--authorization-url', server.url('/device'), '--token-url', server.url('/token'), '--client-id', 'tv', '--scope', 'openid', '--inspect', '--json', '--no-qr'],
      { env: { DEVICE_FLOW_CLIENT_SECRET: SECRETS.clientSecret, PATH: `${bin}:${process.env.PATH}` } },
    );
    const [, relayUrl, port] = await cli.stderrMatching(/Inspector relay on (http:\/\/127\.0\.0\.1:(\d+))/);

    const page = await (await fetch(relayUrl!)).text();
    expect(page).toContain('<iframe id="inspector" src="https://stately.ai/inspect">');
    for (const address of ['127.0.0.2', ...externalAddresses()]) await expect(canConnect(address, Number(port))).resolves.toBe(false);

    const messages: string[] = [];
    const socket = new WebSocket(`ws://127.0.0.1:${port}`);
    socket.on('message', (data) => messages.push(data.toString()));
    await new Promise((resolve) => socket.once('open', resolve));
    await server.nextRequest('/token');
    approved = true;
    const { code, stdout } = await cli.done;
    socket.close();
    await server.close();

    expect(code).toBe(0);
    expect(existsSync(opened)).toBe(false);
    expect(documentedJson(stdout).accessToken).toBe(SECRETS.accessToken);
    const all = messages.join('\n');
    expect(messages.length).toBeGreaterThan(10);
    expect(all).toMatch(/"@xstate\.snapshot"/);
    expect(all).toMatch(/awaitingUser/);
    expect(all).toContain('[redacted]');
    for (const [name, secret] of Object.entries(SECRETS)) expect(all.includes(secret), name).toBe(false);
  });
});

describe('the inspector relay', () => {
  it('is listening when it is handed out, and moves to another port when its port is taken in the meantime', async () => {
    const squatter = createServer();
    squatter.listen(0, '127.0.0.1');
    await once(squatter, 'listening');
    const taken = (squatter.address() as AddressInfo).port;
    const tried: number[] = [];
    const relay = await startInspectorRelay(async () => {
      const port = tried.length === 0 ? taken : 0;
      tried.push(port);
      return port === 0 ? freeLoopbackPort() : port;
    });
    try {
      expect(tried).toHaveLength(2);
      expect(relay.url).not.toContain(`:${taken}`);
      expect(await (await fetch(relay.url)).text()).toContain('stately.ai/inspect');
    } finally {
      await relay.stop();
      squatter.close();
    }
  });

  it('disconnects open inspector pages when it stops, so they cannot keep the process alive', async () => {
    const relay = await startInspectorRelay();
    const page = new WebSocket(relay.socketUrl);
    await once(page, 'open');
    const closed = once(page, 'close');
    await relay.stop();
    await closed;
    expect(page.readyState).toBe(WebSocket.CLOSED);
    // Nothing listens any more.
    await expect(fetch(relay.url)).rejects.toThrow();
  });

  it('gives up with ClientError after three taken ports', async () => {
    const squatter = createServer();
    squatter.listen(0, '127.0.0.1');
    await once(squatter, 'listening');
    const taken = (squatter.address() as AddressInfo).port;
    await expect(startInspectorRelay(async () => taken)).rejects.toMatchObject({ code: 'ClientError', message: expect.stringMatching(/EADDRINUSE/) });
    squatter.close();
  });
});

function externalAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((entry) => entry !== undefined && !entry.internal && entry.family === 'IPv4')
    .map((entry) => entry!.address);
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}
