/**
 * The fleet benchmark: N concurrent flows against the stub, for each client variant, in separate processes pinned to
 * separate cores (the client on core 0, the stub on core 1).
 */
import { fileURLToPath } from 'node:url';
import { nextMessage, startProcess } from './processes.js';
import { percentile } from './stats.js';
import type { VariantName } from './variants.js';

export interface FleetResult {
  variant: VariantName;
  flows: number;
  polls: number;
  /** Client CPU (user + system) per poll, in microseconds. */
  cpuPerPoll: number;
  heapPerFlow: number;
  rssPerFlow: number;
  eventLoopDelayP99: number;
  /** Server-observed gap between a flow's polls minus the interval, in ms. */
  lateness: { min: number; p50: number; p99: number; max: number };
  /**
   * How evenly the polls reach the server: polls per 10 ms slot (median, mean and largest) and the share of empty
   * slots. An even spread of 2,000 polls/s puts 20 in every slot; flows that herd leave empty slots and fill others.
   */
  spread: { p50: number; mean: number; max: number; emptyShare: number };
  /** Stub CPU used in the window, as a share of one core. */
  stubLoad: number;
  /** The share of polls that carried a DPoP proof. */
  proofShare: number;
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runFleet(variant: VariantName, flows: number, { windowMs, intervalS }: { windowMs: number; intervalS: number }): Promise<FleetResult> {
  const stub = startProcess(here('./stub.js'), 1, { env: { BENCH_INTERVAL: String(intervalS) } });
  const client = startProcess(here('./client.js'), 0, { execArgv: ['--expose-gc', '--max-old-space-size=4096'] });
  try {
    const [{ port }] = await Promise.all([nextMessage<{ port: number }>(stub, 'listening'), nextMessage(client, 'ready')]);
    const staggerMs = intervalS * 1000;
    client.send({ type: 'start', variant, flows, base: `http://127.0.0.1:${port}`, staggerMs, warmUpMs: 2 * intervalS * 1000 + 1000 });
    await nextMessage(client, 'started');
    // Every flow started, and polled a couple of times: the steady state.
    await sleep(staggerMs + 2 * intervalS * 1000);
    stub.send({ type: 'reset' });
    client.send({ type: 'measure' });
    const stubStart = await (stub.send({ type: 'report' }), nextMessage<{ cpu: NodeJS.CpuUsage }>(stub, 'report'));
    stub.send({ type: 'reset' });
    await sleep(windowMs);
    const [server, measured] = await Promise.all([
      (stub.send({ type: 'report' }), nextMessage<{ polls: number; proofs: number; gaps: number[]; slots: number[]; cpu: NodeJS.CpuUsage }>(stub, 'report')),
      (client.send({ type: 'report' }), nextMessage<{ cpuMicros: number; heapPerFlow: number; rssPerFlow: number; eventLoopDelayP99: number }>(client, 'report')),
    ]);
    const lateness = server.gaps.map((gap) => gap - intervalS * 1000);
    const stubCpu = server.cpu.user + server.cpu.system - (stubStart.cpu.user + stubStart.cpu.system);
    return {
      variant,
      flows,
      polls: server.polls,
      cpuPerPoll: measured.cpuMicros / server.polls,
      heapPerFlow: measured.heapPerFlow,
      rssPerFlow: measured.rssPerFlow,
      eventLoopDelayP99: measured.eventLoopDelayP99,
      lateness: { min: Math.min(...lateness), p50: percentile(lateness, 50), p99: percentile(lateness, 99), max: Math.max(...lateness) },
      spread: {
        p50: percentile(server.slots, 50),
        mean: server.slots.reduce((sum, count) => sum + count, 0) / server.slots.length,
        max: Math.max(...server.slots),
        emptyShare: server.slots.filter((count) => count === 0).length / server.slots.length,
      },
      stubLoad: stubCpu / 1000 / windowMs,
      proofShare: server.proofs / server.polls,
    };
  } finally {
    stub.send({ type: 'stop' });
    client.kill();
  }
}
