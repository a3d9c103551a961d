/**
 * The statechart as Mermaid state diagrams, generated from the machine itself (`xstate/graph`'s `toDirectedGraph`), so
 * that the pictures in the docs cannot drift from the code: an overview of the top-level states with the transitions of
 * the main story, one detail diagram per compound top-level state with every transition that touches it, and a legend
 * of what the overview leaves out at its own level.
 *
 * @module
 */
import { renderMermaidSVG } from 'beautiful-mermaid';
import type { AnyStateMachine } from 'xstate';
import { type DirectedGraphNode, toDirectedGraph } from 'xstate/graph';

/** One transition of the machine: where it is declared, where it goes, and what its label says. */
export interface Transition {
  /** The path of the state it is declared on; `[]` for the machine's root, whose transitions apply in any state. */
  source: readonly string[];
  /** The path of the state it goes to; the source's when it changes no state. */
  target: readonly string[];
  /** As drawn: `GRANT`, `after untilNextPoll`, `done pollToken`, `always`. */
  event: string;
  /** The guard as drawn (`pollingBlocked`, `in awaitingUser.poller.stopped`), if any. */
  guard: string | undefined;
  /** The named actions it runs (XState's built-in ones left out, but `raise EVENT`). */
  actions: readonly string[];
  /** `move` to another state, `reenter` its own state, or `stay` (no target: no state is exited). */
  kind: 'move' | 'reenter' | 'stay';
}

/** A diagram: the file it is rendered to, its Mermaid source, and the transitions it draws. */
export interface Diagram {
  /** `overview`, or the compound state it details: the SVG is `statechart-<name>.svg`. */
  name: string;
  mermaid: string;
  transitions: readonly Transition[];
}

/** Everything docs/statechart.md shows. */
export interface Statechart {
  overview: Diagram;
  /** One per compound top-level state, in the chart's order. */
  details: readonly Diagram[];
  /** What the overview leaves out of the root's and the simple top-level states' transitions: no detail is about them. */
  legend: readonly Transition[];
}

/**
 * Events that keep the books rather than tell the story, with what they are for: the overview leaves them to the
 * legend and the detail diagrams.
 */
export const BOOKKEEPING_EVENTS: Readonly<Record<string, string>> = {
  UPDATE: 'the application changed a setting',
  RESUME: 'a flow restored from a snapshot restarts the timer or request of its state',
  FAIL: 'an exception thrown in a step of the statechart ends what was in progress',
};

/** A guard named `…Blocked` is a precondition (src/machines/preconditions.ts): when it holds, the call is refused. */
const REFUSAL_GUARD = /\b\w+Blocked\b/;

/** The box the root's transitions are drawn from. */
const ANY = 'anyState';

/** Longer lines of a label are broken before a guard, an action or a remark, so that no box gets too wide. */
const LINE_LENGTH = 36;

/** Every transition of `machine`, in the order the chart declares them (eventless ones after the others of a state). */
export function transitionsOf(machine: AnyStateMachine): Transition[] {
  return allNodes(toDirectedGraph(machine)).flatMap((node) => [
    ...node.edges.map((edge) => toTransition(node.stateNode, edge.target, edge.transition)),
    // toDirectedGraph leaves out eventless transitions.
    ...(node.stateNode.always ?? []).map((always) => toTransition(node.stateNode, always.target?.[0] ?? node.stateNode, always)),
  ]);
}

type StateNode = DirectedGraphNode['stateNode'];
type TransitionDefinition = DirectedGraphNode['edges'][number]['transition'];

function toTransition(source: StateNode, target: StateNode, definition: TransitionDefinition): Transition {
  return {
    source: source.path,
    target: target.path,
    event: eventName(definition.eventType),
    guard: definition.guard === undefined ? undefined : describeGuard(definition.guard),
    actions: (definition.actions ?? []).map(actionName).filter((name) => name !== ''),
    kind: definition.target === undefined ? 'stay' : target === source ? 'reenter' : 'move',
  };
}

/**
 * Why the overview leaves `transition` out, or `undefined` when it draws it. The overview tells the story between the
 * top-level states: bookkeeping, refusals and transitions that change no state are in the legend, what stays inside one
 * top-level state is its detail diagram's.
 */
export function leftOutOfOverview(transition: Transition): string | undefined {
  if (transition.event in BOOKKEEPING_EVENTS) return 'bookkeeping';
  if (transition.guard !== undefined && REFUSAL_GUARD.test(transition.guard)) return 'a refusal';
  if (transition.kind !== 'move') return 'changes no state';
  if (transition.source.length > 0 && transition.source[0] === transition.target[0]) return `inside ${transition.source[0]}`;
  return undefined;
}

/** The overview, the detail diagrams and the legend of `machine`. */
export function statechart(machine: AnyStateMachine): Statechart {
  const chart = new Chart(machine);
  const compound = chart.graph.children.filter((child) => child.children.length > 0);
  const detailed = new Set(compound.map((child) => child.stateNode.key));
  return {
    overview: chart.overview(),
    details: compound.map((child) => chart.detail(child)),
    legend: chart.transitions.filter((transition) => leftOutOfOverview(transition) !== undefined && !detailed.has(transition.source[0] ?? '')),
  };
}

/** The machine's states and transitions, and how each diagram draws them. */
class Chart {
  readonly graph: DirectedGraphNode;
  readonly transitions: readonly Transition[];

  constructor(machine: AnyStateMachine) {
    this.graph = toDirectedGraph(machine);
    this.transitions = transitionsOf(machine);
  }

  /**
   * The top-level states and the transitions {@link leftOutOfOverview} keeps. A compound state is drawn open when
   * nothing happens inside it (its children are only targets), else closed, naming its children.
   */
  overview(): Diagram {
    const drawn = this.transitions.filter((transition) => leftOutOfOverview(transition) === undefined);
    const lines = [`state "any state" as ${ANY}`];
    for (const child of this.graph.children) {
      // An open compound state's initial state is never entered by default here: every transition names its child.
      lines.push(...(this.isOpen(child) ? declare(child, new Map(), false) : [`state "${summary(child)}" as ${idOf(child.stateNode.path)}`]));
    }
    lines.push(`[*] --> ${idOf(initialChild(this.graph)!.stateNode.path)}`);
    lines.push(...edges(drawn, (transition) => this.topBox(transition.source), (transition) => this.topBox(transition.target), (transition) => this.topLabel(transition)));
    return { name: 'overview', mermaid: mermaid(lines), transitions: drawn };
  }

  /**
   * `node` with all of its states and every transition that starts or ends in it. A transition that changes no state is
   * written inside the box it is declared on; a compound state's own transitions start from an **any state in …** box
   * beside it; states outside `node` are drawn as in the overview.
   */
  detail(node: DirectedGraphNode): Diagram {
    const key = node.stateNode.key;
    const drawn = this.transitions.filter((transition) => transition.source[0] === key || transition.target[0] === key);
    const outside = (path: readonly string[]) => path[0] !== key;
    const box = (path: readonly string[], end: 'source' | 'target') => (outside(path) ? this.topBox(path) : end === 'source' ? this.sourceBox(path) : idOf(path));
    const moves = drawn.filter((transition) => transition.kind === 'move');
    const declareOutside = (paths: (readonly string[])[]) =>
      unique(paths.filter(outside).map((path) => `state "${path.length === 0 ? 'any state' : this.topName(path)}" as ${this.topBox(path)}`));
    const above = declareOutside(moves.map((transition) => transition.source));
    const lines = [
      // Where transitions come from above the state, where they go below it.
      ...above,
      ...declare(node, this.boxes(drawn.filter((transition) => !outside(transition.source))), true),
      ...declareOutside(moves.map((transition) => transition.target)).filter((line) => !above.includes(line)),
      ...edges(
        drawn,
        (transition) => box(transition.source, 'source'),
        (transition) => box(transition.target, 'target'),
        (transition) => this.topLabel(transition, key),
      ),
    ];
    return { name: key, mermaid: mermaid(lines), transitions: drawn };
  }

  /** The boxes `transitions` start from, by id, each with the lines of those of them that change no state. */
  private boxes(transitions: readonly Transition[]): Map<string, string[]> {
    const lines = new Map<string, string[]>();
    for (const transition of transitions) {
      const id = this.sourceBox(transition.source);
      lines.set(id, [...(lines.get(id) ?? []), ...(transition.kind === 'move' ? [] : [label(transition)])]);
    }
    return lines;
  }

  /** The box a transition declared on `path` starts from: the state itself, or for a compound state its **any state in …** box. */
  private sourceBox(path: readonly string[]): string {
    return this.nodeAt(path).children.length === 0 ? idOf(path) : anyStateIn(path);
  }

  private isOpen(node: DirectedGraphNode): boolean {
    return node.children.length === 0 || !this.transitions.some((transition) => transition.source[0] === node.stateNode.key);
  }

  /** The box of `path` as the overview draws it: the root's is **any state**, a closed state's holds all of its children. */
  private topBox(path: readonly string[]): string {
    if (path.length === 0) return ANY;
    return idOf(this.isOpen(this.nodeAt(path.slice(0, 1))) ? path : path.slice(0, 1));
  }

  private topName(path: readonly string[]): string {
    return this.topBox(path) === idOf(path) ? path.join('.') : path[0]!;
  }

  /** `transition`'s label where a closed box hides where it starts (`poller.requesting: …`) or ends (`… → poller.starting`). */
  private topLabel(transition: Transition, detailed?: string): string {
    const hidden = (path: readonly string[]) => (path[0] === detailed || this.topBox(path) === idOf(path) ? '' : path.slice(1).join('.'));
    const [source, target] = [hidden(transition.source), hidden(transition.target)];
    return `${source === '' ? '' : `${source}: `}${label(transition)}${target === '' ? '' : ` → ${target}`}`;
  }

  private nodeAt(path: readonly string[]): DirectedGraphNode {
    return path.reduce((node, key) => node.children.find((child) => child.stateNode.key === key)!, this.graph);
  }
}

/**
 * A state and, inside a compound one, its children and (with `initial`) its initial state. A compound state whose own
 * transitions are in `inside` gets an **any state in …** box beside it, holding those that change no state.
 */
function declare(node: DirectedGraphNode, inside: ReadonlyMap<string, readonly string[]>, initial: boolean): string[] {
  const id = idOf(node.stateNode.path);
  const name = node.stateNode.key;
  if (node.children.length === 0) return [`state "${boxLabel(name, inside.get(id))}" as ${id}`];
  const lines = [`state "${name}" as ${id} {`];
  for (const child of node.children) lines.push(...declare(child, inside, initial).map((line) => `  ${line}`));
  const first = initialChild(node);
  // Parallel regions have no initial state: all of them are entered.
  if (initial && first) lines.push(`  [*] --> ${idOf(first.stateNode.path)}`);
  lines.push('}');
  const own = inside.get(anyStateIn(node.stateNode.path));
  if (own) lines.push(`state "${boxLabel(`any state in ${node.stateNode.path.join('.')}`, own)}" as ${anyStateIn(node.stateNode.path)}`);
  return lines;
}

/** The edges of the transitions that move, one per pair of boxes, with a line per transition. */
function edges(
  transitions: readonly Transition[],
  from: (transition: Transition) => string,
  to: (transition: Transition) => string,
  text: (transition: Transition) => string,
): string[] {
  const labels = new Map<string, string[]>();
  for (const transition of transitions.filter((candidate) => candidate.kind === 'move')) {
    const key = `${from(transition)} --> ${to(transition)}`;
    labels.set(key, [...(labels.get(key) ?? []), text(transition)]);
  }
  return [...labels].map(([key, lines]) => `${key}: ${lines.map(wrap).join('<br>')}`);
}

/**
 * `EVENT [guard]`; for a transition that changes no state also what it does instead: `/ action`, `(ignored)` when
 * nothing, `(re-enter)` when it exits and enters its own state again.
 */
export function label(transition: Transition): string {
  const parts = [transition.event];
  if (transition.guard !== undefined) parts.push(`[${transition.guard}]`);
  if (transition.kind === 'reenter') parts.push('(re-enter)');
  if (transition.kind !== 'move' && transition.actions.length > 0) parts.push(`/ ${transition.actions.join(', ')}`);
  else if (transition.kind === 'stay') parts.push('(ignored)');
  return parts.join(' ');
}

/** `line` broken before a `[guard]`, `/ action` or `(remark)` wherever it would run past {@link LINE_LENGTH}. */
function wrap(line: string): string {
  const lines: string[] = [];
  for (const part of line.split(/ (?=[[/(→])/)) {
    const last = lines.at(-1);
    if (last !== undefined && last.length + 1 + part.length <= LINE_LENGTH) lines[lines.length - 1] = `${last} ${part}`;
    else lines.push(part);
  }
  return lines.join('<br>');
}

/** A box's label: its name in bold over the transitions written inside it. */
function boxLabel(name: string, inside: readonly string[] = []): string {
  return inside.length === 0 ? name : [`<b>${name}</b>`, ...inside.map(wrap)].join('<br>');
}

/** A closed compound state's label: its name over its children (for a parallel state, one line per region). */
function summary(node: DirectedGraphNode): string {
  const names = (parent: DirectedGraphNode) => parent.children.map((child) => child.stateNode.key).join(', ');
  const region = (child: DirectedGraphNode) => (child.children.length === 0 ? child.stateNode.key : `${child.stateNode.key}: ${names(child)}`);
  const lines = node.stateNode.type === 'parallel' ? node.children.map(region) : [names(node)];
  return [`<b>${node.stateNode.key}</b>`, ...lines].join('<br>');
}

function mermaid(lines: readonly string[]): string {
  return `stateDiagram-v2\n${lines.map((line) => `  ${line}`).join('\n')}\n`;
}

/** `xstate.after.untilNextPoll.…` → `after untilNextPoll`; `xstate.done.actor.pollToken` → `done pollToken`. */
function eventName(type: string): string {
  if (type === '') return 'always';
  const after = /^xstate\.after\.([^.]+)\./.exec(type);
  if (after) return `after ${after[1]}`;
  const settled = /^xstate\.(done|error)\.actor\.(.+)$/.exec(type);
  if (settled) return `${settled[1]} ${settled[2]}`;
  return type;
}

function describeGuard(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && guard !== null && 'type' in guard) return String((guard as { type: string }).type);
  const check = guard as { check?: unknown; guards?: unknown[]; stateValue?: unknown };
  if (Array.isArray(check.guards)) return check.guards.map(describeGuard).join(' and ');
  if (check.stateValue !== undefined) return `in ${String(check.stateValue).replace(/^#\w+\./, '')}`;
  return 'guard';
}

/** An action's name; XState's built-in ones are left out, but a raised event is what makes a later transition happen. */
function actionName(action: unknown): string {
  if (typeof action === 'string') return action;
  if ((typeof action !== 'object' && typeof action !== 'function') || action === null || !('type' in action)) return '';
  const { type, event } = action as { type: unknown; event?: unknown };
  if (type === 'xstate.raise' && typeof event === 'object' && event !== null && 'type' in event) return `raise ${String(event.type)}`;
  return typeof type === 'string' && !type.startsWith('xstate.') ? type : '';
}

function initialChild(node: DirectedGraphNode): DirectedGraphNode | undefined {
  const initial = node.stateNode.initial?.target[0];
  return node.children.find((child) => child.stateNode === initial);
}

function allNodes(node: DirectedGraphNode): DirectedGraphNode[] {
  return [node, ...node.children.flatMap(allNodes)];
}

function unique(lines: readonly string[]): string[] {
  return [...new Set(lines)];
}

// Mermaid ids cannot hold dots: the state's path, joined by underscores.
function idOf(path: readonly string[]): string {
  return path.length === 0 ? ANY : path.join('_');
}

function anyStateIn(path: readonly string[]): string {
  return `${idOf(path)}_anyState`;
}

/** The colours of the SVGs: darker than the renderer's defaults, so that 11 px edge labels read well on a white page. */
const COLOURS = { bg: '#FFFFFF', fg: '#18181B', muted: '#3F3F46', line: '#71717A' };

/** The widest a diagram may be drawn: the browser test reads them at this width without scrolling. */
const MAX_WIDTH = 1600;

/**
 * `diagram` laid out and drawn offline, without a browser, top to bottom or left to right: whichever fits
 * {@link MAX_WIDTH} with the fewer crossing edges, and of two as good the narrower.
 */
function renderSvg(diagram: Diagram): string {
  const drawings = ['TB', 'LR'].map((direction) => render(diagram.mermaid.replace(/^stateDiagram-v2\n/, `stateDiagram-v2\n  direction ${direction}\n`)));
  const score = (svg: string) => [widthOf(svg) <= MAX_WIDTH ? 0 : 1, crossings(svg), widthOf(svg)];
  return drawings.reduce((best, svg) => (compare(score(svg), score(best)) < 0 ? svg : best));
}

/**
 * Where Inter, which the renderer measures text for, is not installed: sans-serif fonts no wider than it, before the
 * system's own (DejaVu Sans, on many Linux systems, is wider: labels would spill out of their boxes).
 */
const FONTS = `'Inter', 'Segoe UI', 'Helvetica Neue', Helvetica, Arial, 'Liberation Sans', 'DejaVu Sans Condensed', system-ui, sans-serif`;

function render(mermaid: string): string {
  return (
    renderMermaidSVG(mermaid, { ...COLOURS, padding: 24 })
      // The renderer asks Google Fonts for Inter: opening our docs should not reach out to anyone.
      .replace(/^\s*@import url\('https:\/\/fonts\.googleapis\.com\/[^']*'\);\n/gm, '')
      .replace(/^(\s*text \{ font-family: )[^;]*;/m, `$1${FONTS};`)
  );
}

function widthOf(svg: string): number {
  return Number(/<svg[^>]* width="([\d.]+)"/.exec(svg)?.[1] ?? Infinity);
}

type Segment = readonly [x1: number, y1: number, x2: number, y2: number];

/** How many times two edges of `svg` cross: the renderer routes them as polylines of horizontal and vertical segments. */
function crossings(svg: string): number {
  const polylines = [...svg.matchAll(/<polyline class="edge"[^>]* points="([^"]+)"/g)].map(([, points]) => segments(points!));
  let count = 0;
  polylines.forEach((edge, index) => {
    for (const other of polylines.slice(index + 1)) for (const a of edge) for (const b of other) if (cross(a, b) || cross(b, a)) count += 1;
  });
  return count;
}

function segments(points: string): Segment[] {
  const xy = points.trim().split(/\s+/).map((point) => point.split(',').map(Number) as [number, number]);
  return xy.slice(1).map(([x, y], index) => [xy[index]![0], xy[index]![1], x, y] as const);
}

/** Whether horizontal `a` and vertical `b` cross inside both (edges that merely meet at a box do not cross). */
function cross([ax1, ay, ax2, ay2]: Segment, [bx, by1, bx2, by2]: Segment): boolean {
  if (ay !== ay2 || bx !== bx2) return false;
  return Math.min(ax1, ax2) < bx && bx < Math.max(ax1, ax2) && Math.min(by1, by2) < ay && ay < Math.max(by1, by2);
}

function compare(a: readonly number[], b: readonly number[]): number {
  const index = a.findIndex((value, position) => value !== b[position]);
  return index === -1 ? 0 : a[index]! - b[index]!;
}

/** The SVG of every diagram, by its file name in docs/. */
export function statechartSvgs(machine: AnyStateMachine): Record<string, string> {
  const { overview, details } = statechart(machine);
  return Object.fromEntries([overview, ...details].map((diagram) => [svgName(diagram), renderSvg(diagram)]));
}

function svgName(diagram: Diagram): string {
  return `statechart-${diagram.name}.svg`;
}

/** docs/statechart.md: the diagrams of `machine` as images, with their Mermaid sources, the legend, and how to read them. */
export function statechartPage(machine: AnyStateMachine): string {
  const { overview, details, legend } = statechart(machine);
  const bookkeeping = Object.entries(BOOKKEEPING_EVENTS).map(([event, meaning]) => `  - \`${event}\`: ${meaning};`);
  return `<!-- Generated by \`npm run docs\` from src/machines/deviceAuthorization.ts; test/docs.test.ts fails when it is stale. -->
# The statechart

\`deviceAuthorizationChart\`, drawn from the machine itself with \`xstate/graph\`: an overview of the top-level states
and the transitions between them, then one diagram for each compound state with every transition that starts or ends
in it. Between them and the overview's legend, every state and every transition is there. The states are described
in [machine.md](machine.md).

How to read the labels: \`EVENT [guard]\`. \`after untilNextPoll\` is a delayed transition (its delay is computed from
an absolute time in the context), \`done pollToken\` and \`error pollToken\` are the outcomes of an invoked actor,
\`always\` is an eventless transition. Transitions of the machine's root apply in any state that does not handle the
event itself, and are drawn from **any state**; those of a compound state, from **any state in** it. A transition that
changes no state is written inside the box of its state, under the state's name, with what it does instead:
\`/ action\`, \`(re-enter)\` when it leaves the state and enters it again, \`(ignored)\` when nothing happens. Where a
box stands for a compound state, a label names the state inside it that the transition leaves (\`poller.requesting:\`)
or enters (\`→ poller.starting\`).

## Overview

![The top-level states and the transitions between them](${svgName(overview)})

The overview draws the transitions from one top-level state to another, but not these:

- bookkeeping:
${bookkeeping.join('\n')}
- refusals: transitions guarded by one of the preconditions (\`…Blocked\`), which refuse a call the configuration
  cannot serve;
- transitions that change no state.

What happens inside a compound state is in its own diagram below. The transitions of the root and of the simple states
that the overview leaves out:

| Event | In | Guard | What it does | Why left out |
| --- | --- | --- | --- | --- |
${legend.map(legendRow).join('\n')}

${mermaidSource(overview)}
${details.map(detailSection).join('')}`;
}

function detailSection(diagram: Diagram): string {
  return `
## ${diagram.name}

![${diagram.name} and every transition that starts or ends in it](${svgName(diagram)})

${mermaidSource(diagram)}`;
}

/** The Mermaid source, folded away: for other renderers, and for GitHub, which draws it. */
function mermaidSource(diagram: Diagram): string {
  return `<details><summary>Mermaid source</summary>

\`\`\`mermaid
${diagram.mermaid.trimEnd()}
\`\`\`

</details>
`;
}

function legendRow(transition: Transition): string {
  const cells = [
    `\`${transition.event}\``,
    transition.source.length === 0 ? 'any state' : `\`${transition.source.join('.')}\``,
    transition.guard === undefined ? '' : `\`${transition.guard}\``,
    effect(transition),
    leftOutOfOverview(transition)!,
  ];
  return `| ${cells.join(' | ')} |`;
}

/** What `transition` does, in words: where it goes, and its actions. */
function effect(transition: Transition): string {
  const actions = transition.actions.map((action) => `\`${action}\``).join(', ');
  if (transition.kind === 'stay') return actions === '' ? 'ignored' : `stays: ${actions}`;
  const where = transition.kind === 'reenter' ? `re-enters \`${transition.target.join('.')}\`` : `goes to \`${transition.target.join('.')}\``;
  return actions === '' ? where : `${where}: ${actions}`;
}
