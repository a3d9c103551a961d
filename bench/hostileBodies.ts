/**
 * Hostile bodies within the 1 MiB cap: how long each blocks the event loop, from the answer's arrival to the last
 * signal. The longest gap between two turns of the loop is the measure (target: under 50 ms), taken while a flow
 * takes in the body at the endpoint it was sent to.
 */
import { SimulatedClock } from 'xstate';
import { OAuth2DeviceAuthorizationFlow } from '../src/index.js';
import { median } from './stats.js';

type Endpoint = 'device' | 'token';

const deviceMembers = { device_code: 'device-code', user_code: 'WDJB-MJHT', verification_uri: 'https://example.com/device', expires_in: 600, interval: 5 };
const tokenMembers = { access_token: 'access-token', token_type: 'Bearer', expires_in: 3600 };
const withMember = (members: object, name: string, json: string) => `${JSON.stringify(members).slice(0, -1)},"${name}":${json}}`;
const wide = `{${Array.from({ length: 70_000 }, (_, index) => `"m${index}":${index}`).join(',')}}`;
const megabyte = 'm'.repeat(1_000_000);

/** Each body, the endpoint it answers, and what it is. */
export const HOSTILE_BODIES: { name: string; endpoint: Endpoint; body: string }[] = [
  { name: 'a member nested 3,000 arrays deep', endpoint: 'device', body: withMember(deviceMembers, 'x', `${'['.repeat(3_000)}${']'.repeat(3_000)}`) },
  { name: 'a member nested 20,000 objects deep', endpoint: 'token', body: withMember(tokenMembers, 'x', `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`) },
  { name: '70,000 members (device authorization)', endpoint: 'device', body: withMember(deviceMembers, 'x', '1').replace(/}$/, `,${wide.slice(1)}`) },
  { name: '70,000 members (token)', endpoint: 'token', body: withMember(tokenMembers, 'x', '1').replace(/}$/, `,${wide.slice(1)}`) },
  { name: '120,000 scope tokens', endpoint: 'token', body: JSON.stringify({ ...tokenMembers, scope: Array.from({ length: 120_000 }, (_, index) => index.toString(36)).join(' ') }) },
  { name: 'a 1 MB error_description', endpoint: 'token', body: JSON.stringify({ error: 'invalid_grant', error_description: megabyte }) },
  { name: 'a 1 MB device_code', endpoint: 'device', body: JSON.stringify({ ...deviceMembers, device_code: megabyte }) },
  { name: '300,000 array elements', endpoint: 'token', body: withMember(tokenMembers, 'x', `[${Array.from({ length: 300_000 }, () => '1').join(',')}]`) },
];

export interface HostileBodyResult {
  name: string;
  bytes: number;
  /** The signal the flow ended the exchange with: `authorizeWithUserCode`, `granted`, or the failure's code. */
  outcome: string;
  /** Median over the runs of the longest gap between two turns of the event loop, in milliseconds. */
  longestBlock: number;
}

/** Measures every body `runs` times. */
export async function runHostileBodies(runs: number): Promise<HostileBodyResult[]> {
  const results: HostileBodyResult[] = [];
  for (const { name, endpoint, body } of HOSTILE_BODIES) {
    const blocks: number[] = [];
    let outcome = '';
    for (let run = 0; run < runs; run++) {
      const measured = await measure(endpoint, body);
      blocks.push(measured.longestBlock);
      outcome = measured.outcome;
    }
    results.push({ name, bytes: Buffer.byteLength(body), outcome, longestBlock: median(blocks) });
  }
  return results;
}

async function measure(endpoint: Endpoint, body: string): Promise<{ outcome: string; longestBlock: number }> {
  const clock = new SimulatedClock();
  clock.set(Date.now());
  let hostile = endpoint === 'device';
  const fetch = async (url: string) =>
    new Response(hostile ? body : JSON.stringify(url.endsWith('/device') ? deviceMembers : { error: 'authorization_pending' }), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  const flow = new OAuth2DeviceAuthorizationFlow({ authorizationUrl: 'https://as.example/device', tokenUrl: 'https://as.example/token', clientIdentifier: 'bench', clock, fetch });
  const ended = () =>
    new Promise<string>((resolve) => {
      flow.on('requestFailed', (error) => resolve(error.code));
      flow.on('granted', () => resolve('granted'));
      flow.on('authorizeWithUserCode', () => resolve('authorizeWithUserCode'));
    });
  if (endpoint === 'token') {
    const shown = ended();
    flow.grant();
    await shown;
    hostile = true;
  }
  const outcome = ended();
  const stop = startBlockMeter();
  if (endpoint === 'device') flow.grant();
  // The next poll is due one interval (plus the poll jitter) after the answer.
  else clock.set(flow.nextPollAt!.getTime());
  const result = await outcome;
  // One more turn, so that a block ending with the last signal is counted.
  await new Promise((resolve) => setImmediate(resolve));
  const longestBlock = stop();
  flow.dispose();
  return { outcome: result, longestBlock };
}

/** Starts measuring the longest gap between turns of the event loop; the returned function stops and reports it. */
function startBlockMeter(): () => number {
  let last = performance.now();
  let longest = 0;
  let running = true;
  const tick = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return () => {
    running = false;
    tick();
    return longest;
  };
}
