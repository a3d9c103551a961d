/**
 * `npm run bench` in miniature: a few flows of this package against the stub, in the benchmark's own processes, on
 * the real clock. Besides keeping the benchmark working, it checks on real timers what the benchmark measures at
 * scale: the stub never sees a poll sooner than the interval.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const fleetModule = resolve(import.meta.dirname, '../dist-tools/bench/fleet.js');
const hostileModule = resolve(import.meta.dirname, '../dist-tools/bench/hostileBodies.js');
const sizeModule = resolve(import.meta.dirname, '../dist-tools/bench/size.js');

describe('the benchmark, in miniature', () => {
  it.each(['c: machine', 'd0: class, default options', 'd2: class + undici fetch', 'd3: class + undici fetch + DPoP proof'])('%s: measures a fleet, whose polls are never early', async (variant) => {
    const { runFleet } = (await import(fleetModule)) as typeof import('../bench/fleet.js');
    const result = await runFleet(variant as never, 5, { windowMs: 2_000, intervalS: 1 });
    expect(result.polls).toBeGreaterThanOrEqual(5);
    expect(result.lateness.min).toBeGreaterThanOrEqual(0);
    expect(result.cpuPerPoll).toBeGreaterThan(0);
    expect(Number.isFinite(result.heapPerFlow)).toBe(true);
    // About ten polls in two seconds of 10 ms slots: most slots are empty, none holds more than the five flows.
    expect(result.spread.max).toBeGreaterThanOrEqual(1);
    expect(result.spread.max).toBeLessThanOrEqual(5);
    expect(result.spread.emptyShare).toBeGreaterThan(0.5);
    // The DPoP row measures what it says: every one of its polls, and no other row's, carries a proof.
    expect(result.proofShare).toBe(variant.includes('DPoP') ? 1 : 0);
  }, 30_000);

  it('measures how long each hostile body blocks the event loop, and each ends as documented', async () => {
    const { runHostileBodies } = (await import(hostileModule)) as typeof import('../bench/hostileBodies.js');
    const results = await runHostileBodies(1);
    expect(Object.fromEntries(results.map((row) => [row.name, row.outcome]))).toEqual({
      'a member nested 3,000 arrays deep': 'ServerError',
      'a member nested 20,000 objects deep': 'ServerError',
      '70,000 members (device authorization)': 'ServerError',
      '70,000 members (token)': 'ServerError',
      '120,000 scope tokens': 'ServerError',
      'a 1 MB error_description': 'ServerError',
      'a 1 MB device_code': 'authorizeWithUserCode',
      '300,000 array elements': 'ServerError',
    });
    for (const row of results) expect(row.longestBlock).toBeGreaterThan(0);
  }, 60_000);

  it('measures the bundles with esbuild and rolldown: the statechart alone loads less at start than the class, and requests later', async () => {
    const { runBundleSizes } = (await import(sizeModule)) as typeof import('../bench/size.js');
    const rows = await runBundleSizes();
    for (const bundler of ['esbuild', 'rolldown'] as const) {
      const of = (name: string) => rows.find((row) => row.name === name && row.bundler === bundler)!;
      const machine = of('machine only (own code)');
      // The class, the promise API and the stores are not in an app that imports only the statechart.
      expect(machine.gzipped).toBeLessThan(of('class (own code)').gzipped * 0.6);
      // The module that makes requests is a chunk of its own, loaded by the first request.
      expect(machine.later).toBeGreaterThan(1024);
      expect(machine.target).toBe(9 * 1024);
      expect(of('oauth4webapi (device-flow functions)').gzipped).toBeGreaterThan(0);
      expect(of('oauth2-device-flow + xstate + ofetch + jose').gzipped).toBeGreaterThan(of('oauth2-device-flow (own code)').gzipped);
    }
  }, 60_000);
});
