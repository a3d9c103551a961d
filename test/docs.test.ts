/**
 * The docs stay true to the code: the committed statechart diagram is the one the machine draws today, the API
 * reference builds from the TSDoc without a warning, and no link between the pages is broken.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import GithubSlugger from 'github-slugger';
import { setup } from 'xstate';
import { toDirectedGraph } from 'xstate/graph';
import { describe, expect, it, onTestFinished } from 'vitest';
import { buildApiReference } from '../docs/build/apiReference.js';
import { statechartPage, statechartSvg, toMermaid } from '../docs/build/statechart.js';
import { deviceAuthorizationChart } from '../src/machines/deviceAuthorization.js';

const root = resolve(import.meta.dirname, '..');
const STALE = 'stale: run `npm run docs` and commit docs/statechart.md and docs/statechart.svg';

describe('docs/statechart.md and .svg', () => {
  it('are what the machine draws today', async () => {
    expect(await readFile(join(root, 'docs/statechart.md'), 'utf8'), STALE).toBe(statechartPage(deviceAuthorizationChart));
    expect(await readFile(join(root, 'docs/statechart.svg'), 'utf8'), STALE).toBe(statechartSvg(deviceAuthorizationChart));
  });

  it('draw every state and every transition of the machine', () => {
    const mermaid = toMermaid(deviceAuthorizationChart);
    const nodes = [toDirectedGraph(deviceAuthorizationChart)].flatMap(function all(node): (typeof node)[] {
      return [node, ...node.children.flatMap(all)];
    });
    for (const node of nodes.slice(1)) expect(mermaid).toContain(`state "${node.stateNode.key}" as ${node.stateNode.path.join('_')}`);
    const transitions = nodes.reduce((sum, node) => sum + node.edges.length + (node.stateNode.always?.length ?? 0), 0);
    expect(mermaid.split('\n').filter((line) => / --> \S+: /.test(line))).toHaveLength(transitions);
    // The transitions RFC 8628 §3.5 is about, as a reader of the diagram should find them.
    expect(mermaid).toContain('awaitingUser_poller_waiting --> awaitingUser_poller_requesting: after untilNextPoll [nextPollBeforeExpiry]');
    expect(mermaid).toContain('awaitingUser_poller_requesting --> awaitingUser_poller_waiting: done pollToken [isSlowDown]');
    expect(mermaid).toContain('awaitingUser_poller_requesting --> awaitingUser_poller_waiting: error pollToken [faultToRideOut]');
    expect(mermaid).toContain('awaitingUser_poller_requesting --> granted: done pollToken');
    expect(mermaid).toContain('awaitingUser_userCode_valid --> awaitingUser_userCode_valid: after untilUserCodeExpiry');
    expect(mermaid).toContain('awaitingUser_userCode_valid --> failed_polling: USER_CODE_EXPIRED');
  });

  it('label transitions with their event, guard and, where the state does not change, action', () => {
    const machine = setup({
      guards: { hasCode: () => true },
      actions: { remember: () => undefined },
      delays: { untilNextPoll: 1000 },
    }).createMachine({
      id: 'tiny',
      initial: 'idle',
      on: { RESET: '.idle' },
      states: {
        idle: { on: { GRANT: { guard: 'hasCode', target: 'polling' }, NOTE: { actions: 'remember' } } },
        polling: {
          type: 'parallel',
          states: { a: { initial: 'x', states: { x: { after: { untilNextPoll: 'y' } }, y: { always: 'x' } } }, b: {} },
        },
      },
    });
    expect(toMermaid(machine)).toBe(`stateDiagram-v2
  state "any state" as anyState
  state "idle" as idle
  state "polling" as polling {
    state "a" as polling_a {
      state "x" as polling_a_x
      state "y" as polling_a_y
      [*] --> polling_a_x
    }
    --
    state "b" as polling_b
  }
  [*] --> idle
  anyState --> idle: RESET
  idle --> polling: GRANT [hasCode]
  idle --> idle: NOTE / remember
  polling_a_x --> polling_a_y: after untilNextPoll
  polling_a_y --> polling_a_x: always
`);
  });
});

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
