/**
 * Where a waiting flow's heap goes: for each variant, a fleet of N flows polling the bench's stub (in a process of its
 * own), a heap snapshot before and after the fleet starts, and the difference aggregated by what V8 calls each object
 * (its constructor, a closure's function name and place, an array's or a string's kind). Prints the heap per flow as
 * the fleet benchmark measures it, and the top of the table per flow.
 *
 * `npx tsc -p tsconfig.tools.json && node dist-tools/bench/heapProfile.js`
 *
 * Environment: HEAP_FLOWS (1000), HEAP_VARIANTS (the fetch floor, the machine and the class with default options; names
 * as in variants.ts, comma-separated), HEAP_TOP (25 rows), HEAP_INTERVAL_S (the stub's polling interval, 5), HEAP_KEEP (a directory to
 * keep the snapshots in, for DevTools).
 */
import { fork } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { nextMessage, startProcess } from './processes.js';
import type { VariantName } from './variants.js';

const here = fileURLToPath(import.meta.url);
const gc = (globalThis as { gc?: () => void }).gc;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One row of the table: objects of one kind that the fleet added. */
export interface HeapRow {
  kind: string;
  count: number;
  bytes: number;
}

export interface HeapProfile {
  variant: string;
  flows: number;
  /** `heapUsed` after the fleet minus before, per flow: the fleet benchmark's measure. */
  heapPerFlow: number;
  /** The snapshots' difference per flow (what the rows add up to). */
  snapshotPerFlow: number;
  /** Kinds of object by bytes added, largest first. */
  rows: HeapRow[];
  /** Retained bytes added, by the constructor of the objects that retain them (flows, actors, timers, connections). */
  owners: HeapRow[];
  /** The objects the fleet added (by id), by kind and by where they hang: their dominator's kind and the edge to them. */
  held: HeapRow[];
  /** HTTP requests in flight when the snapshot was taken (the child waits for a moment without any, for a while). */
  inFlight: number;
}

// ── The child: runs one variant's fleet and writes the two snapshots ─────────────────────────────────────────────

/** HTTP requests in flight (Node's `fetch` and undici's both report theirs on these channels). */
let inFlight = 0;

async function child(): Promise<void> {
  diagnostics.subscribe('undici:request:create', () => inFlight++);
  diagnostics.subscribe('undici:request:trailers', () => inFlight--);
  diagnostics.subscribe('undici:request:error', () => inFlight--);
  const { VARIANTS } = await import('./variants.js');
  const message = await new Promise<{ variant: VariantName; flows: number; base: string; intervalS: number; directory: string }>((resolve) =>
    process.once('message', resolve as never),
  );
  const { variant, flows, base, intervalS, directory } = message;
  const collect = () => {
    gc!();
    gc!();
    return process.memoryUsage().heapUsed;
  };
  // As bench/client.ts: a small fleet first, so that compiled code and open connections fall into the baseline.
  const warmUp = VARIANTS[variant]({ base, flows: 50, staggerMs: 100 });
  await sleep(2 * intervalS * 1000 + 1000);
  warmUp.stop();
  await sleep(200);
  const before = collect();
  const baseline = writeHeapSnapshot(join(directory, 'before.heapsnapshot'));
  const fleet = VARIANTS[variant]({ base, flows, staggerMs: intervalS * 1000 });
  // Every flow started and polled twice: the steady state. Then a moment with no request in flight, so that every flow
  // is waiting (up to an interval's wait for one).
  await sleep(intervalS * 1000 + 2 * intervalS * 1000);
  for (const until = Date.now() + intervalS * 1000; inFlight > 0 && Date.now() < until; ) await sleep(1);
  const quiet = inFlight;
  const after = collect();
  const measured = writeHeapSnapshot(join(directory, 'after.heapsnapshot'));
  fleet.stop();
  process.send!({ type: 'done', heapPerFlow: (after - before) / flows, baseline, measured, inFlight: quiet }, () => process.exit(0));
}

// ── Reading a snapshot ────────────────────────────────────────────────────────────────────────────────────────────

interface SnapshotFile {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]]; location_fields?: string[] } };
  nodes: number[];
  edges: number[];
  strings: string[];
  locations?: number[];
}

/** A heap snapshot, its nodes numbered 0… (0 is the root), with the dominator of each. */
class Heap {
  readonly count: number;
  readonly #file: SnapshotFile;
  readonly #width: number;
  readonly #edgeWidth: number;
  readonly #firstEdge: Uint32Array;
  readonly #field: Record<'type' | 'name' | 'size' | 'id' | 'edges', number>;
  readonly #edgeField: Record<'type' | 'name' | 'to', number>;
  readonly #weakEdges: Set<number>;
  readonly #where = new Map<number, string>();
  readonly #scripts = new Map<string, string>();
  #dominators: { idom: Int32Array; retained: Float64Array } | undefined;

  constructor(file: string) {
    this.#file = JSON.parse(readFileSync(file, 'utf8')) as SnapshotFile;
    const { meta } = this.#file.snapshot;
    this.#width = meta.node_fields.length;
    this.#edgeWidth = meta.edge_fields.length;
    const at = (name: string) => meta.node_fields.indexOf(name);
    this.#field = { type: at('type'), name: at('name'), size: at('self_size'), id: at('id'), edges: at('edge_count') };
    const edgeAt = (name: string) => meta.edge_fields.indexOf(name);
    this.#edgeField = { type: edgeAt('type'), name: edgeAt('name_or_index'), to: edgeAt('to_node') };
    this.#weakEdges = new Set(['weak', 'shortcut'].map((type) => meta.edge_types[0].indexOf(type)));
    const { nodes } = this.#file;
    this.count = nodes.length / this.#width;
    this.#firstEdge = new Uint32Array(this.count + 1);
    for (let node = 0, edge = 0; node < this.count; node++) {
      this.#firstEdge[node] = edge;
      edge += nodes[node * this.#width + this.#field.edges]! * this.#edgeWidth;
    }
    this.#firstEdge[this.count] = this.#file.edges.length;
    const fields = meta.location_fields ?? [];
    const locations = this.#file.locations ?? [];
    const [objectAt, scriptAt, lineAt] = ['object_index', 'script_id', 'line'].map((name) => fields.indexOf(name)) as [number, number, number];
    for (let index = 0; fields.length > 0 && index < locations.length; index += fields.length) {
      this.#where.set(locations[index + objectAt]! / this.#width, `${locations[index + scriptAt]}:${locations[index + lineAt]! + 1}`);
    }
  }

  type(node: number): string {
    return this.#file.snapshot.meta.node_types[0][this.#file.nodes[node * this.#width + this.#field.type]!]!;
  }
  name(node: number): string {
    return this.#file.strings[this.#file.nodes[node * this.#width + this.#field.name]!]!;
  }
  size(node: number): number {
    return this.#file.nodes[node * this.#width + this.#field.size]!;
  }
  id(node: number): number {
    return this.#file.nodes[node * this.#width + this.#field.id]!;
  }

  /** The strong edges of `node`: the nodes they lead to, with their names. */
  *edges(node: number): Generator<{ to: number; name: string }> {
    const { edges, strings } = this.#file;
    const types = this.#file.snapshot.meta.edge_types[0];
    for (let edge = this.#firstEdge[node]!; edge < this.#firstEdge[node + 1]!; edge += this.#edgeWidth) {
      const type = edges[edge + this.#edgeField.type]!;
      if (this.#weakEdges.has(type)) continue;
      const nameOrIndex = edges[edge + this.#edgeField.name]!;
      const named = types[type] !== 'element' && types[type] !== 'hidden';
      yield { to: edges[edge + this.#edgeField.to]! / this.#width, name: named ? strings[nameOrIndex]! : String(nameOrIndex) };
    }
  }

  /** The node the edge `name` of `node` leads to, or -1. */
  follow(node: number, ...names: string[]): number {
    for (const edge of this.edges(node)) if (names.includes(edge.name)) return edge.to;
    return -1;
  }

  /** The name of the edge from `from` to `to`, or undefined when there is none. */
  edgeName(from: number, to: number): string | undefined {
    for (const edge of this.edges(from)) if (edge.to === to) return edge.name;
    return undefined;
  }

  /** Where closure `node` is defined: the script's file and the line. */
  place(node: number): string {
    const location = this.#where.get(node);
    if (location === undefined) return '?';
    const [scriptId, line] = location.split(':') as [string, string];
    if (!this.#scripts.has(scriptId)) {
      const shared = this.follow(node, 'shared');
      const script = shared === -1 ? -1 : this.follow(shared, 'script_or_debug_info', 'script');
      this.#scripts.set(scriptId, shortScript(script === -1 ? '' : this.name(script)));
    }
    return `${this.#scripts.get(scriptId)}:${line}`;
  }

  /** Each node's immediate dominator (-1 when unreachable) and retained size (Cooper, Harvey and Kennedy's algorithm). */
  dominators(): { idom: Int32Array; retained: Float64Array } {
    if (this.#dominators !== undefined) return this.#dominators;
    const { count } = this;
    const predecessorCount = new Uint32Array(count + 1);
    for (let node = 0; node < count; node++) for (const { to } of this.edges(node)) predecessorCount[to]!++;
    const firstPredecessor = new Uint32Array(count + 1);
    for (let node = 0; node < count; node++) firstPredecessor[node + 1] = firstPredecessor[node]! + predecessorCount[node]!;
    const predecessors = new Uint32Array(firstPredecessor[count]!);
    const filled = new Uint32Array(count);
    for (let node = 0; node < count; node++) for (const { to } of this.edges(node)) predecessors[firstPredecessor[to]! + filled[to]!++] = node;
    // Post-order from the root.
    const postorder = new Int32Array(count).fill(-1);
    const order: number[] = [];
    const visited = new Uint8Array(count);
    const stack: { node: number; edges: Iterator<{ to: number }> }[] = [{ node: 0, edges: this.edges(0) }];
    visited[0] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      let next = top.edges.next();
      while (!next.done && visited[next.value.to]) next = top.edges.next();
      if (next.done) {
        stack.pop();
        postorder[top.node] = order.length;
        order.push(top.node);
      } else {
        visited[next.value.to] = 1;
        stack.push({ node: next.value.to, edges: this.edges(next.value.to) });
      }
    }
    const idom = new Int32Array(count).fill(-1);
    idom[0] = 0;
    const intersect = (a: number, b: number) => {
      while (a !== b) {
        while (postorder[a]! < postorder[b]!) a = idom[a]!;
        while (postorder[b]! < postorder[a]!) b = idom[b]!;
      }
      return a;
    };
    for (let changed = true; changed; ) {
      changed = false;
      for (let index = order.length - 2; index >= 0; index--) {
        const node = order[index]!;
        let dominator = -1;
        for (let p = firstPredecessor[node]!; p < firstPredecessor[node + 1]!; p++) {
          const predecessor = predecessors[p]!;
          if (idom[predecessor]! < 0) continue;
          dominator = dominator < 0 ? predecessor : intersect(predecessor, dominator);
        }
        if (dominator >= 0 && idom[node] !== dominator) {
          idom[node] = dominator;
          changed = true;
        }
      }
    }
    const retained = new Float64Array(count);
    for (const node of order) {
      retained[node]! += this.size(node);
      if (node !== 0) retained[idom[node]!]! += retained[node]!;
    }
    return (this.#dominators = { idom, retained });
  }
}

/**
 * What kind of object `node` is: an object by its constructor, a closure by its name and where it is defined, a
 * closure's context by the function whose variables it holds (`owners`), the rest by V8's type and name.
 */
function kindOf(heap: Heap, node: number, owners: Map<number, string>): string {
  const type = heap.type(node);
  const name = heap.name(node);
  if (name === 'system / Context') return `context of ${owners.get(node) ?? '?'}`;
  if (type === 'object') return name;
  if (type === 'closure') return `closure ${name || '(anonymous)'} ${heap.place(node)}`;
  if (type === 'string' || type === 'concatenated string' || type === 'sliced string') return `(${type})`;
  return `(${type}) ${name.length > 60 ? `${name.slice(0, 57)}…` : name}`;
}

/** Each context, named after the first closure met that holds it. */
function contextOwners(heap: Heap): Map<number, string> {
  const owners = new Map<number, string>();
  for (let node = 0; node < heap.count; node++) {
    if (heap.type(node) !== 'closure') continue;
    const context = heap.follow(node, 'context');
    if (context !== -1 && !owners.has(context)) owners.set(context, `${heap.name(node) || '(anonymous)'} ${heap.place(node)}`);
  }
  return owners;
}

/** Bytes and counts by kind. */
function aggregate(heap: Heap): Map<string, { count: number; bytes: number }> {
  const owners = contextOwners(heap);
  const table = new Map<string, { count: number; bytes: number }>();
  for (let node = 0; node < heap.count; node++) {
    const kind = kindOf(heap, node, owners);
    const row = table.get(kind) ?? { count: 0, bytes: 0 };
    row.count++;
    row.bytes += heap.size(node);
    table.set(kind, row);
  }
  return table;
}

/**
 * Retained bytes by constructor (each object's retained size, unless another object of its constructor dominates
 * it), for the constructors of the fleet's own objects.
 */
function retainedBy(heap: Heap, names: readonly string[]): Map<string, { count: number; bytes: number }> {
  const { idom, retained } = heap.dominators();
  const table = new Map<string, { count: number; bytes: number }>();
  for (let node = 0; node < heap.count; node++) {
    if (idom[node]! < 0 || heap.type(node) !== 'object') continue;
    const name = heap.name(node);
    if (!names.includes(name)) continue;
    let nested = false;
    for (let up = idom[node]!; up > 0 && !nested; up = idom[up]!) nested = heap.type(up) === 'object' && heap.name(up) === name;
    const row = table.get(name) ?? { count: 0, bytes: 0 };
    row.count++;
    if (!nested) row.bytes += retained[node]!;
    table.set(name, row);
  }
  return table;
}

/** A script's name, from `node_modules` or the package's own folders on. */
function shortScript(name: string): string {
  const path = name.replace(/^file:\/\//, '');
  const modules = path.lastIndexOf('node_modules/');
  if (modules !== -1) return path.slice(modules + 'node_modules/'.length);
  const own = path.search(/\/(dist|dist-tools|src|bench)\//);
  return own === -1 ? path || '(native)' : path.slice(own + 1);
}

/**
 * The objects of `after` that `before` did not hold (by V8's object id), by kind and by where they hang: the kind of
 * their dominator and the name of the edge from it (`…` when the dominator reaches them through others).
 */
function heldBy(before: Heap, after: Heap): Map<string, { count: number; bytes: number }> {
  const old = new Set<number>();
  for (let node = 0; node < before.count; node++) old.add(before.id(node));
  const owners = contextOwners(after);
  const { idom } = after.dominators();
  const table = new Map<string, { count: number; bytes: number }>();
  for (let node = 0; node < after.count; node++) {
    if (old.has(after.id(node)) || idom[node]! < 0) continue;
    const up = idom[node]!;
    const kind = `${kindOf(after, node, owners)} ← ${kindOf(after, up, owners)}.${after.edgeName(up, node) ?? '…'}`;
    const row = table.get(kind) ?? { count: 0, bytes: 0 };
    row.count++;
    row.bytes += after.size(node);
    table.set(kind, row);
  }
  return table;
}

/** The objects of the fleet whose retained size is shown: the flows', the timers', the connections'. */
const OWNERS = ['OAuth2DeviceAuthorizationFlow', 'FlowRunner', 'SignalDelivery', 'SignalEmitter', 'Actor', 'PreciseTimer', 'Timeout', 'Client', 'Request'] as const;

/** The snapshots' difference per flow: by kind, and the retained size of the {@link OWNERS}. */
export function difference(before: string, after: string, flows: number): { rows: HeapRow[]; total: number; owners: HeapRow[]; held: HeapRow[] } {
  const perFlow = (a: Map<string, { count: number; bytes: number }>, b: Map<string, { count: number; bytes: number }>) => {
    const rows: HeapRow[] = [];
    for (const kind of new Set([...a.keys(), ...b.keys()])) {
      const old = a.get(kind) ?? { count: 0, bytes: 0 };
      const now = b.get(kind) ?? { count: 0, bytes: 0 };
      rows.push({ kind, count: (now.count - old.count) / flows, bytes: (now.bytes - old.bytes) / flows });
    }
    return rows.sort((x, y) => Math.abs(y.bytes) - Math.abs(x.bytes));
  };
  const first = new Heap(before);
  const [kindsBefore, ownersBefore] = [aggregate(first), retainedBy(first, OWNERS)];
  const second = new Heap(after);
  const rows = perFlow(kindsBefore, aggregate(second));
  const owners = perFlow(ownersBefore, retainedBy(second, OWNERS)).filter((row) => row.count !== 0 || row.bytes !== 0);
  const held = perFlow(new Map(), heldBy(first, second));
  return { rows, total: rows.reduce((sum, row) => sum + row.bytes, 0), owners, held };
}

// ── The parent: a stub, then one child per variant ───────────────────────────────────────────────────────────────

/** Profiles `variant` with `flows` flows against a stub at `base`. */
export async function profileVariant(variant: VariantName, flows: number, base: string, intervalS: number, keep?: string): Promise<HeapProfile> {
  const directory = mkdtempSync(join(keep ?? tmpdir(), 'heap-'));
  const client = fork(here, ['--child'], { execArgv: ['--expose-gc', '--max-old-space-size=4096'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    client.send({ variant, flows, base, intervalS, directory });
    const done = await nextMessage<{ heapPerFlow: number; baseline: string; measured: string; inFlight: number }>(client, 'done');
    const { rows, total, owners, held } = difference(done.baseline, done.measured, flows);
    return { variant, flows, heapPerFlow: done.heapPerFlow, snapshotPerFlow: total, rows, owners, held, inFlight: done.inFlight };
  } finally {
    client.kill();
    if (keep === undefined) rmSync(directory, { recursive: true, force: true });
  }
}

/** Starts the bench's stub; returns its base URL and how to stop it. */
export async function startStub(intervalS: number): Promise<{ base: string; stop: () => void }> {
  const stub = startProcess(fileURLToPath(new URL('./stub.js', import.meta.url)), 1, { env: { BENCH_INTERVAL: String(intervalS) } });
  const { port } = await nextMessage<{ port: number }>(stub, 'listening');
  return { base: `http://127.0.0.1:${port}`, stop: () => stub.send({ type: 'stop' }) };
}

export function formatProfile(profile: HeapProfile, top: number): string {
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`;
  // V8 optimises more functions as the fleet runs: the same code whatever the fleet's size, yet counted per flow.
  const code = profile.rows.filter((row) => row.kind.startsWith('(code)')).reduce((sum, row) => sum + row.bytes, 0);
  const lines = [
    `## ${profile.variant}: ${profile.flows} flows`,
    '',
    `heap per flow (heapUsed): ${kib(profile.heapPerFlow)}; in the snapshots: ${kib(profile.snapshotPerFlow)}, of which code compiled meanwhile ${kib(code)}; requests in flight: ${profile.inFlight}`,
    '',
    '| retained by | objects per flow | bytes per flow |',
    '|---|---|---|',
    ...profile.owners.map((row) => `| ${row.kind} | ${row.count.toFixed(2)} | ${row.bytes.toFixed(0)} |`),
    '',
    '| kind | objects per flow | bytes per flow |',
    '|---|---|---|',
    ...profile.rows.slice(0, top).map((row) => `| ${row.kind.replaceAll('|', '\\|')} | ${row.count.toFixed(2)} | ${row.bytes.toFixed(0)} |`),
    '',
    '| new object ← where it hangs | objects per flow | bytes per flow |',
    '|---|---|---|',
    ...profile.held.slice(0, top).map((row) => `| ${row.kind.replaceAll('|', '\\|')} | ${row.count.toFixed(2)} | ${row.bytes.toFixed(0)} |`),
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const flows = Number(process.env.HEAP_FLOWS ?? 1000);
  const intervalS = Number(process.env.HEAP_INTERVAL_S ?? 5);
  const top = Number(process.env.HEAP_TOP ?? 25);
  // A comma starts a new name only before another name's key ("d0: class, default options" holds one).
  const variants = (process.env.HEAP_VARIANTS?.split(/,(?=\s*\w+: )/).map((name) => name.trim()) ?? ['a: fetch loop', 'c: machine', 'd0: class, default options']) as VariantName[];
  const stub = await startStub(intervalS);
  try {
    for (const variant of variants) {
      const profile = await profileVariant(variant, flows, stub.base, intervalS, process.env.HEAP_KEEP);
      process.stdout.write(`${formatProfile(profile, top)}\n`);
    }
  } finally {
    stub.stop();
  }
}

if (process.argv.includes('--child')) await child();
else if (process.argv[1] === here) await main();
