/**
 * The client process of the fleet benchmark: runs one variant's fleet and measures this process while it polls.
 *
 * Messages from the parent: `start` (variant, flows, base, stagger, warm-up time; answered with `started`), `measure` (the window opens), `report` (the
 * window closes: CPU, memory per flow, event-loop delay), then the process stops its flows and exits.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type Fleet, VARIANTS, type VariantName } from './variants.js';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

let fleet: Fleet | null = null;
let flows = 0;
let baseline = { heap: 0, rss: 0 };
let cpuStart = process.cpuUsage();
const delay = monitorEventLoopDelay({ resolution: 10 });

function memory() {
  gc();
  gc();
  const { heapUsed, rss } = process.memoryUsage();
  return { heap: heapUsed, rss };
}

process.on('message', (message: { type: string; variant?: VariantName; flows?: number; base?: string; staggerMs?: number; warmUpMs?: number }) => {
  switch (message.type) {
    case 'start':
      void start(message.variant!, message.flows!, message.base!, message.staggerMs!, message.warmUpMs!);
      break;
    case 'measure':
      cpuStart = process.cpuUsage();
      delay.reset();
      delay.enable();
      break;
    case 'report': {
      const cpu = process.cpuUsage(cpuStart);
      delay.disable();
      const now = memory();
      process.send!(
        {
          type: 'report',
          cpuMicros: cpu.user + cpu.system,
          heapPerFlow: (now.heap - baseline.heap) / flows,
          rssPerFlow: (now.rss - baseline.rss) / flows,
          eventLoopDelayP99: delay.percentile(99) / 1e6,
        },
        () => {
          fleet?.stop();
          setTimeout(() => process.exit(0), 100);
        },
      );
      break;
    }
  }
});
/**
 * Runs a small fleet of the variant first, long enough for every flow to poll twice, and stops it: the code it
 * compiles and the connections it opens are the same whatever the fleet's size, so they belong in the baseline, not
 * in the memory per flow. Then starts the measured fleet.
 */
async function start(variant: VariantName, count: number, base: string, staggerMs: number, warmUpMs: number): Promise<void> {
  const warmUp = VARIANTS[variant]({ base, flows: WARM_UP_FLOWS, staggerMs: 100 });
  await new Promise((resolve) => setTimeout(resolve, warmUpMs));
  warmUp.stop();
  flows = count;
  baseline = memory();
  fleet = VARIANTS[variant]({ base, flows, staggerMs });
  process.send!({ type: 'started' });
}

const WARM_UP_FLOWS = 50;

process.send!({ type: 'ready' });
