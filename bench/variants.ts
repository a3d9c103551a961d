/**
 * The device-flow clients the fleet benchmark compares. Each starts `flows` flows against the stub, spreading their
 * starts over `staggerMs`, and polls until stopped.
 */
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import * as openidClient from 'openid-client';
import { createActor } from 'xstate';
import { createDeviceAuthorizationMachine, createPreciseClock, type FetchFunction, generateDpopKeyPair, OAuth2DeviceAuthorizationFlow } from '../src/index.js';
import { createUndiciFetch } from '../src/node/index.js';
// The package as Node.js resolves it (the `node` condition of `exports["."]`): flows given no `fetch` send through
// undici (row d0). Rows c and d therefore give the global `fetch` explicitly.
import '../src/index.node.js';

export interface FleetOptions {
  base: string;
  flows: number;
  staggerMs: number;
}

export interface Fleet {
  stop(): void;
}

export type VariantName = keyof typeof VARIANTS;

const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
const GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';

/** Starts `count` flows with `start(i)`, spread evenly over `staggerMs`; returns the timers to cancel. */
function staggered(count: number, staggerMs: number, start: (index: number) => void): () => void {
  const timers = Array.from({ length: count }, (_, index) => setTimeout(() => start(index), (staggerMs * index) / count));
  return () => timers.forEach(clearTimeout);
}

/**
 * A hand-written polling loop over `post` (which sends a form and resolves with the response text): the floors. After
 * `stop()`, a request that fails (its socket destroyed by `release`) ends the flow quietly.
 */
function handWrittenLoop({ base, flows, staggerMs }: FleetOptions, post: (url: string, body: string) => Promise<string>, release = () => {}): Fleet {
  let stopped = false;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const cancel = staggered(flows, staggerMs, async (index) => {
    const device = JSON.parse(await post(`${base}/device`, `client_id=bench-${index}`)) as { device_code: string; interval: number };
    let interval = device.interval;
    const body = `grant_type=${encodeURIComponent(GRANT_TYPE)}&device_code=${device.device_code}&client_id=bench-${index}`;
    const poll = async () => {
      if (stopped) return;
      const text = await post(`${base}/token`, body).catch((error: unknown) => (stopped ? null : Promise.reject(error)));
      if (text === null) return;
      const answer = JSON.parse(text) as { error?: string };
      if (answer.error === 'slow_down') interval += 5;
      if (!stopped) timers.add(setTimeout(poll, interval * 1000));
    };
    timers.add(setTimeout(poll, interval * 1000));
  });
  return {
    stop() {
      stopped = true;
      cancel();
      timers.forEach(clearTimeout);
      release();
    },
  };
}

/** (a) The fetch floor: a hand-written loop of `fetch` and `setTimeout`. */
function fetchLoop(options: FleetOptions): Fleet {
  return handWrittenLoop(options, async (url, body) => (await fetch(url, { method: 'POST', headers: FORM, body })).text());
}

/** (a2) The machine's floor: a hand-written loop of keep-alive `node:http` requests. */
function httpLoop(options: FleetOptions): Fleet {
  const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 1024 });
  const post = (url: string, body: string) =>
    new Promise<string>((resolve, reject) => {
      const request = http.request(url, { method: 'POST', agent, headers: { ...FORM, 'content-length': Buffer.byteLength(body) } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve(Buffer.concat(chunks).toString()));
      });
      request.on('error', reject);
      request.end(body);
    });
  // Stopping destroys the agent's sockets under any request in flight.
  return handWrittenLoop(options, post, () => agent.destroy());
}

/** (b) openid-client v6: initiateDeviceAuthorization, then pollDeviceAuthorizationGrant until aborted. */
function openidClientLoop({ base, flows, staggerMs }: FleetOptions): Fleet {
  const controller = new AbortController();
  // One signal stops every flow of the fleet.
  setMaxListeners(0, controller.signal);
  const config = new openidClient.Configuration(
    { issuer: base, device_authorization_endpoint: `${base}/device`, token_endpoint: `${base}/token` },
    'bench-client',
    undefined,
    openidClient.None(),
  );
  openidClient.allowInsecureRequests(config);
  const cancel = staggered(flows, staggerMs, async () => {
    const authorization = await openidClient.initiateDeviceAuthorization(config, {});
    await openidClient.pollDeviceAuthorizationGrant(config, authorization, undefined, { signal: controller.signal }).catch(() => undefined);
  });
  return {
    stop() {
      cancel();
      controller.abort();
    },
  };
}

const input = (base: string, index: number) => ({
  authorizationUrl: `${base}/device`,
  tokenUrl: `${base}/token`,
  clientIdentifier: `bench-${index}`,
  nonceMode: 'Disabled' as const,
});

/**
 * (c) This package's statechart, through `createActor`, with the clock the docs recommend (timers never early); row c
 * gives it the global `fetch`, c2 `createUndiciFetch()`.
 */
function machineLoop({ base, flows, staggerMs }: FleetOptions, fetch?: FetchFunction): Fleet {
  const machine = createDeviceAuthorizationMachine({ fetch });
  const actors: { stop(): void }[] = [];
  const cancel = staggered(flows, staggerMs, (index) => {
    const actor = createActor(machine, { input: input(base, index), clock: createPreciseClock() }).start();
    actor.send({ type: 'GRANT' });
    actors.push(actor);
  });
  return {
    stop() {
      cancel();
      actors.forEach((actor) => actor.stop());
    },
  };
}

/**
 * (d) This package's `OAuth2DeviceAuthorizationFlow` (row d with the global `fetch`, d2 and d3 with
 * `createUndiciFetch()`); with `dpop`, every poll carries a DPoP proof (RFC 9449) signed with an ES256 key, the cost a
 * device that binds its tokens pays per poll. One key serves the fleet: making a key is a once-per-device cost, not a
 * per-poll one.
 */
function classLoop({ base, flows, staggerMs }: FleetOptions, fetch?: FetchFunction, dpop = false): Fleet {
  const instances: OAuth2DeviceAuthorizationFlow[] = [];
  const key = dpop ? generateDpopKeyPair() : undefined;
  const cancel = staggered(flows, staggerMs, async (index) => {
    const dpopKeyPair = await key;
    const flow = new OAuth2DeviceAuthorizationFlow({ ...input(base, index), ...(fetch ? { fetch } : {}), ...(dpopKeyPair ? { dpopKeyPair } : {}) });
    flow.grant();
    instances.push(flow);
  });
  return {
    stop() {
      cancel();
      instances.forEach((flow) => flow.dispose());
    },
  };
}

/** The global `fetch`, given: what rows c and d measure, and what a flow given no `fetch` takes outside Node.js. */
const globalFetch: FetchFunction = globalThis.fetch;

export const VARIANTS = {
  'a: fetch loop': fetchLoop,
  'a2: node:http keep-alive loop': httpLoop,
  'b: openid-client': openidClientLoop,
  'c: machine': (options: FleetOptions) => machineLoop(options, globalFetch),
  'd: class': (options: FleetOptions) => classLoop(options, globalFetch),
  // The class as an application on Node.js makes it: no fetch, no key (the bench's nonceMode aside).
  'd0: class, default options': (options: FleetOptions) => classLoop(options),
  'c2: machine + undici fetch': (options: FleetOptions) => machineLoop(options, createUndiciFetch()),
  'd2: class + undici fetch': (options: FleetOptions) => classLoop(options, createUndiciFetch()),
  'd3: class + undici fetch + DPoP proof': (options: FleetOptions) => classLoop(options, createUndiciFetch(), true),
} satisfies Record<string, (options: FleetOptions) => Fleet>;
