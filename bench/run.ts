/**
 * `npm run bench`: the fleet (CPU, memory, event-loop delay and timing accuracy per client), the latency of a grant,
 * and bundle sizes and import times, measured in one run on this machine. Prints tables with ratios to the floors and
 * writes them to bench/RESULTS.md.
 *
 * Environment: BENCH_SIZES (default "100,1000,10000"), BENCH_WINDOW_S (30), BENCH_INTERVAL (5), BENCH_VARIANTS (all),
 * BENCH_LATENCY_RUNS (20), BENCH_IMPORT_RUNS (21), BENCH_HOSTILE_RUNS (5), BENCH_OUTPUT (bench/RESULTS.md; "-" prints only).
 */
import { cpus, totalmem, type as osType, release } from 'node:os';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type FleetResult, runFleet } from './fleet.js';
import { runHostileBodies } from './hostileBodies.js';
import { runLatency } from './latency.js';
import { pinned } from './processes.js';
import { bundleTable, importTable, runBundleSizes, runImportTimes } from './size.js';
import { VARIANTS, type VariantName } from './variants.js';

const sizes = (process.env.BENCH_SIZES ?? '100,1000,10000').split(',').map(Number);
const windowMs = Number(process.env.BENCH_WINDOW_S ?? 30) * 1000;
const intervalS = Number(process.env.BENCH_INTERVAL ?? 5);
// A comma starts a new name only before another name's key ("d0: class, default options" holds one).
const variants = (process.env.BENCH_VARIANTS?.split(/,(?=\s*\w+: )/).map((name) => name.trim()) ?? Object.keys(VARIANTS)) as VariantName[];
const output = process.env.BENCH_OUTPUT ?? fileURLToPath(new URL('../../bench/RESULTS.md', import.meta.url));

const log = (line: string) => process.stderr.write(`${line}\n`);
const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
const kb = (bytes: number) => `${fixed(bytes / 1024)} KiB`;
const ratio = (value: number, floor: number | undefined) => (floor === undefined || !Number.isFinite(floor) ? '–' : `${fixed(value / floor, 2)}×`);

const fleet: FleetResult[] = [];
for (const flows of sizes) {
  for (const variant of variants) {
    log(`fleet: ${flows} flows, ${variant}…`);
    fleet.push(await runFleet(variant, flows, { windowMs, intervalS }));
  }
}
log('latency…');
const latency = await runLatency(Number(process.env.BENCH_LATENCY_RUNS ?? 20));
log('hostile bodies…');
const hostile = await runHostileBodies(Number(process.env.BENCH_HOSTILE_RUNS ?? 5));
log('bundles and imports…');
const bundles = await runBundleSizes();
const imports = runImportTimes(Number(process.env.BENCH_IMPORT_RUNS ?? 21));

const lines: string[] = [];
lines.push('# Benchmark results', '');
lines.push(`Run on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${fixed(totalmem() / 2 ** 30, 0)} GiB, ${osType()} ${release()}, Node.js ${process.versions.node}.`);
lines.push(
  `Fleet: ${windowMs / 1000} s measured after every flow started and polled twice; the stub answers \`authorization_pending\` with interval ${intervalS} s from a process of its own${pinned ? ' (client pinned to core 0, stub to core 1 with taskset)' : ''}.`,
  '',
);
for (const flows of sizes) {
  const rows = fleet.filter((result) => result.flows === flows);
  const floorFetch = rows.find((row) => row.variant.startsWith('a:'));
  const floorHttp = rows.find((row) => row.variant.startsWith('a2:'));
  lines.push(`## ${flows} flows`, '');
  lines.push('| client | polls | CPU/poll (µs) | ÷ fetch floor | ÷ http floor | heap/flow | ÷ fetch floor | RSS/flow | loop delay p99 (ms) | lateness min / p50 / p99 (ms) | polls per 10 ms p50 / mean / max (max ÷ mean), empty | stub load |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) {
    lines.push(
      `| ${row.variant} | ${row.polls} | ${fixed(row.cpuPerPoll)} | ${ratio(row.cpuPerPoll, floorFetch?.cpuPerPoll)} | ${ratio(row.cpuPerPoll, floorHttp?.cpuPerPoll)} | ${kb(row.heapPerFlow)} | ${ratio(row.heapPerFlow, floorFetch?.heapPerFlow)} | ${kb(row.rssPerFlow)} | ${fixed(row.eventLoopDelayP99)} | ${fixed(row.lateness.min, 2)} / ${fixed(row.lateness.p50)} / ${fixed(row.lateness.p99)} | ${row.spread.p50} / ${fixed(row.spread.mean)} / ${row.spread.max} (${ratio(row.spread.max, row.spread.mean)}), ${fixed(row.spread.emptyShare * 100, 0)} % | ${fixed(row.stubLoad * 100, 0)} % |`,
    );
  }
  lines.push('');
}
const floorLatency = latency.find((row) => row.variant.startsWith('a:'));
lines.push('## Latency of a grant', '', 'From the server writing the token response to the client reporting the grant, one flow at a time.', '');
lines.push('| client | median (ms) | p90 (ms) | ÷ fetch floor |', '|---|---|---|---|');
for (const row of latency) lines.push(`| ${row.variant} | ${fixed(row.median, 2)} | ${fixed(row.p90, 2)} | ${ratio(row.median, floorLatency?.median)} |`);
lines.push('', '## Hostile bodies', '', 'The longest the event loop is blocked while a flow takes in one answer (median of runs; target: under 50 ms).', '');
lines.push('| body | size | outcome | longest block (ms) |', '|---|---|---|---|');
for (const row of hostile) lines.push(`| ${row.name} | ${kb(row.bytes)} | ${row.outcome} | ${fixed(row.longestBlock)} |`);
lines.push('', '## Bundle size (esbuild and rolldown, minified, browser) and import time (Node.js, cold)', '');
lines.push(...bundleTable(bundles), '', ...importTable(imports));
lines.push('');

const report = lines.join('\n');
process.stdout.write(`${report}\n`);
if (output !== '-') {
  const { readFileSync } = await import('node:fs');
  let previous = '';
  try {
    previous = readFileSync(output, 'utf8');
  } catch {
    previous = '';
  }
  // Hand-written analysis after the marker survives a new run.
  const marker = '<!-- analysis -->';
  const analysis = previous.includes(marker) ? previous.slice(previous.indexOf(marker)) : `${marker}\n`;
  writeFileSync(output, `${report}\n${analysis}`);
  log(`written to ${output}`);
}
