/**
 * The docs stay true to the code: the committed statechart diagrams are the ones the machine draws today, the API
 * reference builds from the TSDoc without a warning, and no link between the pages is broken.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import GithubSlugger from 'github-slugger';
import { raise, setup } from 'xstate';
import { type DirectedGraphNode, toDirectedGraph } from 'xstate/graph';
import { describe, expect, it, onTestFinished } from 'vitest';
import { buildApiReference } from '../docs/build/apiReference.js';
import { label, leftOutOfOverview, statechart, statechartPage, statechartSvgs, type Transition, transitionsOf } from '../docs/build/statechart.js';
import { deviceAuthorizationChart } from '../src/machines/deviceAuthorization.js';

const root = resolve(import.meta.dirname, '..');
const STALE = 'stale: run `npm run docs` and commit docs/statechart.md and docs/statechart-*.svg';

describe('docs/statechart.md and its diagrams', () => {
  it('are what the machine draws today, and no other diagram lingers', async () => {
    expect(await readFile(join(root, 'docs/statechart.md'), 'utf8'), STALE).toBe(statechartPage(deviceAuthorizationChart));
    const svgs = statechartSvgs(deviceAuthorizationChart);
    expect(Object.keys(svgs)).toEqual(['statechart-overview.svg', 'statechart-awaitingUser.svg', 'statechart-granted.svg', 'statechart-refreshing.svg', 'statechart-failed.svg']);
    for (const [name, svg] of Object.entries(svgs)) expect(await readFile(join(root, 'docs', name), 'utf8'), `${STALE} (${name})`).toBe(svg);
    const committed = (await readdir(join(root, 'docs'))).filter((name) => /^statechart.*\.svg$/.test(name));
    expect(committed.sort(), STALE).toEqual(Object.keys(svgs).sort());
  });

  it('draw every state of the machine, in a diagram or, closed, in the overview', () => {
    const { overview, details } = statechart(deviceAuthorizationChart);
    const mermaid = [overview, ...details].map((diagram) => diagram.mermaid).join('\n');
    const graph = toDirectedGraph(deviceAuthorizationChart);
    for (const node of allNodes(graph).slice(1)) {
      const { key, path } = node.stateNode;
      expect(mermaid).toMatch(new RegExp(`^ *state "(<b>)?${key}(</b>)?(<br>[^"]*)?" as ${path.join('_')}( \\{)?$`, 'm'));
    }
    for (const child of graph.children) expect(overview.mermaid).toMatch(new RegExp(`^  state "(<b>)?${child.stateNode.key}\\b[^"]*" as ${child.stateNode.key}( \\{)?$`, 'm'));
  });

  it('draw every transition of the machine once in the diagrams it touches or list it in the legend, and nothing else', () => {
    const transitions = transitionsOf(deviceAuthorizationChart);
    // Counted apart from transitionsOf: toDirectedGraph's edges, and the eventless transitions it leaves out.
    expect(transitions).toHaveLength(allNodes(toDirectedGraph(deviceAuthorizationChart)).reduce((sum, node) => sum + node.edges.length + (node.stateNode.always?.length ?? 0), 0));
    const { overview, details } = statechart(deviceAuthorizationChart);
    const places = [{ name: 'overview', items: drawn(overview.mermaid, false) }, ...details.map((diagram) => ({ name: diagram.name, items: drawn(diagram.mermaid, true) }))];
    const legend = legendRows(statechartPage(deviceAuthorizationChart));
    const missing: string[] = [];
    for (const transition of transitions) {
      const found = places.filter((place) => take(place.items, transition)).map((place) => place.name);
      const row = legend.findIndex((candidate) => inLegend(candidate, transition));
      if (row !== -1) legend.splice(row, 1);
      else if (found.length === 0) missing.push(`${transition.source.join('.') || 'any state'}: ${label(transition)}`);
      // A transition that starts or ends in a compound state is in that state's diagram, wherever else it is.
      for (const key of new Set([transition.source[0], transition.target[0]])) {
        if (details.some((diagram) => diagram.name === key)) expect(found, `${label(transition)} in ${key}`).toContain(key);
      }
    }
    expect(missing).toEqual([]);
    expect(places.flatMap((place) => place.items.map((item) => `${place.name}: ${item.from} --> ${item.to}: ${item.text}`)), 'drawn, but no such transition').toEqual([]);
    expect(legend, 'in the legend, but no such transition').toEqual([]);
  });

  it('tell the story in the overview: no bookkeeping, refusal or transition that changes no state, the sign-in and its endings', () => {
    const { overview, details } = statechart(deviceAuthorizationChart);
    for (const transition of overview.transitions) expect(leftOutOfOverview(transition)).toBeUndefined();
    const lines = overview.mermaid.split('\n').filter((line) => line.includes(' --> '));
    expect(lines.filter((line) => /\b(UPDATE|RESUME|FAIL)\b|Blocked\]|^ *(\S+) --> \1:/.test(line))).toEqual([]);
    const items = drawn(overview.mermaid, false);
    for (const [from, to, text] of [
      ['anyState', 'authorizing', 'GRANT'],
      ['authorizing', 'awaitingUser', 'done requestDeviceAuthorization'],
      ['awaitingUser', 'granted', 'poller.requesting: done pollToken'],
      ['awaitingUser', 'failed_polling', 'poller.requesting: error pollToken'],
      ['awaitingUser', 'failed_polling', 'userCode.valid: USER_CODE_EXPIRED'],
      ['awaitingUser', 'verifyingIdToken', 'poller.requesting: done pollToken [idTokenToValidate]'],
      ['verifyingIdToken', 'granted', 'done validateIdToken'],
      ['verifyingIdToken', 'failed_polling', 'error validateIdToken'],
      ['anyState', 'refreshing', 'REFRESH'],
      ['refreshing', 'granted', 'requesting: done refreshTokens'],
      ['refreshing', 'granted', 'verifyingIdToken: done validateIdToken'],
      ['refreshing', 'failed_refresh', 'requesting: error refreshTokens'],
      ['refreshing', 'failed_refresh', 'verifyingIdToken: error validateIdToken'],
      ['anyState', 'revoking', 'REVOKE'],
      ['revoking', 'idle', 'done revokeTokens'],
      ['revoking', 'idle', 'error revokeTokens'],
    ]) {
      expect(items).toContainEqual({ from, to, text });
    }
    // The transitions RFC 8628 §3.5 is about, as a reader of awaitingUser's diagram should find them.
    const awaitingUser = drawn(details.find((diagram) => diagram.name === 'awaitingUser')!.mermaid, true);
    for (const [from, to, text] of [
      ['awaitingUser_poller_waiting', 'awaitingUser_poller_requesting', 'after untilNextPoll [nextPollBeforeExpiry]'],
      ['awaitingUser_poller_requesting', 'awaitingUser_poller_waiting', 'done pollToken [isSlowDown]'],
      ['awaitingUser_poller_requesting', 'awaitingUser_poller_waiting', 'error pollToken [faultToRideOut]'],
      ['awaitingUser_poller_requesting', 'granted', 'done pollToken'],
      ['awaitingUser_userCode_valid', 'awaitingUser_userCode_valid', 'after untilUserCodeExpiry / raise USER_CODE_EXPIRED'],
      ['awaitingUser_userCode_valid', 'failed_polling', 'USER_CODE_EXPIRED'],
    ]) {
      expect(awaitingUser).toContainEqual({ from, to, text });
    }
  });

  it('label transitions with their event, guard and, where the state does not change, what happens instead', () => {
    const machine = setup({
      guards: { hasCode: () => true, grantBlocked: () => false },
      actions: { remember: () => undefined },
      delays: { untilNextPoll: 1000 },
    }).createMachine({
      id: 'tiny',
      initial: 'idle',
      on: { RESET: '.idle', UPDATE: { actions: 'remember' } },
      states: {
        idle: { on: { GRANT: [{ guard: 'grantBlocked', actions: 'remember' }, { guard: 'hasCode', target: 'polling' }], NOTE: { actions: 'remember' } } },
        polling: {
          type: 'parallel',
          on: { STOP: '#tiny.idle' },
          states: {
            a: {
              initial: 'x',
              states: {
                x: { after: { untilNextPoll: 'y' }, on: { RESUME: { target: 'x', reenter: true } } },
                y: { always: 'x', on: { PING: { actions: raise({ type: 'NOTE' }) } } },
              },
            },
            b: { on: { PONG: {} } },
          },
        },
      },
    });
    const { overview, details, legend } = statechart(machine);
    expect(overview.mermaid).toBe(`stateDiagram-v2
  state "any state" as anyState
  state "idle" as idle
  state "<b>polling</b><br>a: x, y<br>b" as polling
  [*] --> idle
  anyState --> idle: RESET
  idle --> polling: GRANT [hasCode]
  polling --> idle: STOP
`);
    expect(details.map((diagram) => diagram.mermaid)).toEqual([
      `stateDiagram-v2
  state "idle" as idle
  state "polling" as polling {
    state "a" as polling_a {
      state "<b>x</b><br>RESUME (re-enter)" as polling_a_x
      state "<b>y</b><br>PING / raise NOTE" as polling_a_y
      [*] --> polling_a_x
    }
    state "<b>b</b><br>PONG (ignored)" as polling_b
  }
  state "any state in polling" as polling_anyState
  idle --> polling: GRANT [hasCode]
  polling_anyState --> idle: STOP
  polling_a_x --> polling_a_y: after untilNextPoll
  polling_a_y --> polling_a_x: always
`,
    ]);
    expect(legend.map((transition) => [transition.source.join('.'), label(transition), leftOutOfOverview(transition)])).toEqual([
      ['', 'UPDATE / remember', 'bookkeeping'],
      ['idle', 'GRANT [grantBlocked] / remember', 'a refusal'],
      ['idle', 'NOTE / remember', 'changes no state'],
    ]);
  });
});

/** A transition as a diagram draws it: an edge's line, or (from a box to itself) a line inside a box. */
interface Item {
  from: string;
  to: string;
  text: string;
}

/**
 * The transitions `mermaid` draws, read back from it: a line per transition on each edge and, with `boxes`, under a
 * box's name. A line that starts with `[`, `/`, `(` or `→` continues the one before (long lines are broken there).
 */
function drawn(mermaid: string, boxes: boolean): Item[] {
  const lines = (text: string) => text.split('<br>').reduce<string[]>((all, line) => (/^[[/(→]/.test(line) ? [...all.slice(0, -1), `${all.at(-1)} ${line}`] : [...all, line]), []);
  const items: Item[] = [];
  for (const [, from, to, text] of mermaid.matchAll(/^ *(\S+) --> (\S+): (.+)$/gm)) items.push(...lines(text!).map((line) => ({ from: from!, to: to!, text: line })));
  if (boxes) {
    for (const [, text, id] of mermaid.matchAll(/^ *state "<b>[^<]+<\/b><br>([^"]+)" as (\S+)$/gm)) items.push(...lines(text!).map((line) => ({ from: id!, to: id!, text: line })));
  }
  return items;
}

/**
 * Takes from `items` the one that draws `transition`, if any: an edge from the box of its state (or of the state
 * around it, whose box holds it), or for the root from **any state**, to the box of its target or of one around it;
 * or, when it changes no state, a line in its state's box. A closed box's label says where inside it the transition
 * starts (`poller.requesting: …`) or ends (`… → poller.starting`).
 */
function take(items: Item[], transition: Transition): boolean {
  const ids = (path: readonly string[]) => (path.length === 0 ? ['anyState'] : path.map((_, index) => path.slice(0, index + 1).join('_')));
  const sources = [...ids(transition.source), `${transition.source.join('_')}_anyState`];
  const text = label(transition);
  const index = items.findIndex((item) => {
    if (!sources.includes(item.from)) return false;
    if (transition.kind !== 'move') return item.to === item.from && item.text === text;
    const inner = item.text.replace(/^[\w.]+: /, '').replace(/ → [\w.]+$/, '');
    return ids(transition.target).includes(item.to) && item.to !== item.from && inner === text;
  });
  if (index !== -1) items.splice(index, 1);
  return index !== -1;
}

interface LegendRow {
  event: string;
  in: string;
  guard: string;
  effect: string;
}

/** The rows of the overview's legend, read back from the page. */
function legendRows(page: string): LegendRow[] {
  const table = page.slice(page.indexOf('| Event |')).split('\n\n')[0]!.split('\n').slice(2);
  return table.map((row) => {
    const [event, where, guard, effect] = row.split(' | ').map((cell) => cell.replace(/^\| /, '').replaceAll('`', ''));
    return { event: event!, in: where!, guard: guard!, effect: effect! };
  });
}

function inLegend(row: LegendRow, transition: Transition): boolean {
  const where = transition.source.length === 0 ? 'any state' : transition.source.join('.');
  const target = transition.target.join('.');
  const effect = { move: `goes to ${target}`, reenter: `re-enters ${target}`, stay: transition.actions.length === 0 ? 'ignored' : 'stays' }[transition.kind];
  return row.event === transition.event && row.in === where && row.guard === (transition.guard ?? '') && row.effect.startsWith(effect);
}

function allNodes(node: DirectedGraphNode): DirectedGraphNode[] {
  return [node, ...node.children.flatMap(allNodes)];
}

describe('the API reference (TypeDoc)', () => {
  it('builds offline from the TSDoc of every export, each with a @see to what it implements', async () => {
    const out = await mkdtemp(join(tmpdir(), 'api-reference-'));
    onTestFinished(() => rm(out, { recursive: true, force: true }));
    const report = await buildApiReference(out);
    expect(report.undocumented).toEqual([]);
    expect(report.withoutSee).toEqual([]);
    expect(report.problems, 'TypeDoc warnings: run npm run docs to see them').toBe(0);
    const classPage = await readFile(join(out, 'classes/index.OAuth2DeviceAuthorizationFlow.html'), 'utf8');
    expect(classPage).toContain('rfc8628');
    expect(existsSync(join(out, 'functions/node.createUndiciFetch.html'))).toBe(true);
  }, 120_000);
});

describe('links between the pages', () => {
  it('point at files that exist and at headings they have', async () => {
    const pages = ['README.md', ...(await readdir(join(root, 'docs'))).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
    const broken: string[] = [];
    for (const page of pages) {
      const text = await readFile(join(root, page), 'utf8');
      for (const [, target] of withoutCode(text).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue;
        const [file, anchor] = target!.split('#') as [string, string | undefined];
        const path = file === '' ? join(root, page) : resolve(root, dirname(page), file);
        if (!existsSync(path)) broken.push(`${page}: ${target} (no such file)`);
        else if (anchor !== undefined && path.endsWith('.md') && !(await headingSlugs(path)).has(anchor)) broken.push(`${page}: ${target} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });
});

function withoutCode(markdown: string): string {
  return markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
}

async function headingSlugs(path: string): Promise<Set<string>> {
  const slugger = new GithubSlugger();
  const headings = (await readFile(path, 'utf8')).replace(/```[\s\S]*?```/g, '').match(/^#{1,6} .+$/gm) ?? [];
  return new Set(headings.map((heading) => slugger.slug(heading.replace(/^#+ /, ''))));
}
