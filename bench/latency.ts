/**
 * Latency: from the moment the server starts answering a poll with tokens to the moment the client reports the grant,
 * for one flow at a time. The server runs in this process, so both ends read the same clock.
 */
import { once } from 'node:events';
import http, { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as openidClient from 'openid-client';
import { createActor } from 'xstate';
import { createDeviceAuthorizationMachine, createPreciseClock, type FetchFunction, OAuth2DeviceAuthorizationFlow } from '../src/index.js';
import { createUndiciFetch } from '../src/node/index.js';
// The package as Node.js resolves it: flows given no `fetch` send through undici (row d0); rows c and d give the global one.
import '../src/index.node.js';
import { median, percentile } from './stats.js';

type OneFlow = (base: string) => Promise<void>;

const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
const GRANT = `grant_type=${encodeURIComponent('urn:ietf:params:oauth:grant-type:device_code')}`;

const loopUntilTokens = (post: (path: string, body: string) => Promise<Record<string, unknown>>): OneFlow => async () => {
  const device = (await post('/device', 'client_id=bench')) as { device_code: string; interval: number };
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, device.interval * 1000));
    const answer = await post('/token', `${GRANT}&device_code=${device.device_code}&client_id=bench`);
    if ('access_token' in answer) return;
  }
};

const agent = new http.Agent({ keepAlive: true });
const flows: Record<string, OneFlow> = {
  'a: fetch loop': (base) =>
    loopUntilTokens(async (path, body) => (await (await fetch(`${base}${path}`, { method: 'POST', headers: FORM, body })).json()) as Record<string, unknown>)(base),
  'a2: node:http keep-alive loop': (base) =>
    loopUntilTokens(
      (path, body) =>
        new Promise((resolve, reject) => {
          const request = http.request(`${base}${path}`, { method: 'POST', agent, headers: { ...FORM, 'content-length': Buffer.byteLength(body) } }, (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>));
          });
          request.on('error', reject);
          request.end(body);
        }),
    )(base),
  'b: openid-client': async (base) => {
    const config = new openidClient.Configuration({ issuer: base, device_authorization_endpoint: `${base}/device`, token_endpoint: `${base}/token` }, 'bench', undefined, openidClient.None());
    openidClient.allowInsecureRequests(config);
    await openidClient.pollDeviceAuthorizationGrant(config, await openidClient.initiateDeviceAuthorization(config, {}));
  },
  'c: machine': (base) => machineFlow(base, globalThis.fetch),
  'd: class': (base) => classFlow(base, globalThis.fetch),
  // With the Node.js entry loaded (above): no fetch given is undici.
  'd0: class, default options': (base) => classFlow(base),
  'c2: machine + undici fetch': (base) => machineFlow(base, createUndiciFetch()),
  'd2: class + undici fetch': (base) => classFlow(base, createUndiciFetch()),
};

function machineFlow(base: string, fetch?: FetchFunction): Promise<void> {
  const actor = createActor(createDeviceAuthorizationMachine({ fetch }), {
    input: { authorizationUrl: `${base}/device`, tokenUrl: `${base}/token`, clientIdentifier: 'bench', nonceMode: 'Disabled' },
    clock: createPreciseClock(),
  });
  const granted = new Promise<void>((resolve) => actor.on('granted', () => resolve()));
  actor.start();
  actor.send({ type: 'GRANT' });
  return granted.finally(() => actor.stop());
}

function classFlow(base: string, fetch?: FetchFunction): Promise<void> {
  const flow = new OAuth2DeviceAuthorizationFlow({ authorizationUrl: `${base}/device`, tokenUrl: `${base}/token`, clientIdentifier: 'bench', nonceMode: 'Disabled', ...(fetch ? { fetch } : {}) });
  const granted = new Promise<void>((resolve) => flow.on('granted', () => resolve()));
  flow.grant();
  return granted.finally(() => flow.dispose());
}

export interface LatencyResult {
  variant: string;
  /** Milliseconds from the server writing the token response to the client reporting the grant. */
  median: number;
  p90: number;
}

/** Runs `runs` flows per variant, one at a time, each granted at its first poll (interval 1 s). */
export async function runLatency(runs: number): Promise<LatencyResult[]> {
  let answeredAt = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const body =
        request.url === '/device'
          ? { device_code: 'device', user_code: 'ABCD-EFGH', verification_uri: 'https://example.com/device', expires_in: 600, interval: 1 }
          : { access_token: 'access-token', token_type: 'Bearer', expires_in: 3600 };
      const text = JSON.stringify(body);
      if (request.url !== '/device') answeredAt = performance.now();
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      response.end(text);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const results: LatencyResult[] = [];
  for (const [variant, flow] of Object.entries(flows)) {
    const samples: number[] = [];
    for (let run = 0; run < runs; run++) {
      await flow(base);
      samples.push(performance.now() - answeredAt);
    }
    results.push({ variant, median: median(samples), p90: percentile(samples, 90) });
  }
  server.closeAllConnections();
  server.close();
  agent.destroy();
  return results;
}
