/**
 * What `device-flow` leaves on a terminal's screen. The progress line is replayed through two terminal emulators:
 * xterm.js (the real one, which cuts the cursor's line when the window narrows) and a small one below that rewraps
 * every line, the cursor's too, as VTE, kitty and iTerm2 do. The QR code is drawn into a picture as a dark and a light
 * theme show it, honouring its colours and half blocks, and read back with a QR decoder.
 */
import xterm from '@xterm/headless';
import jsqr from 'jsqr';
import { renderUnicodeCompact } from 'uqr';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fitToWidth, ProgressLine, type ProgressSource, showUserCode, terminalSafeStream } from '../../src/cli/terminal.js';
import type { DeviceFlowSignalName, DeviceFlowSignals } from '../../src/flow/delivery.js';
import type { UserCodePrompt } from '../../src/promise/authorizeDevice.js';
import { T0 } from '../helpers/machineHarness.js';

/** What a test reads off a terminal: its rows, top to bottom, without trailing blanks. */
interface Screen {
  write(data: string): Promise<void>;
  resize(columns: number): void;
  rows(): string[];
}

/** xterm.js without a browser. */
class XtermScreen implements Screen {
  readonly #terminal: xterm.Terminal;

  constructor(columns: number) {
    // convertEol: a terminal's line discipline turns "\n" into "\r\n" on the way to the screen.
    this.#terminal = new xterm.Terminal({ cols: columns, rows: 24, scrollback: 1000, convertEol: true, allowProposedApi: true });
  }

  write(data: string): Promise<void> {
    return new Promise((resolve) => this.#terminal.write(data, resolve));
  }

  resize(columns: number): void {
    this.#terminal.resize(columns, 24);
  }

  rows(): string[] {
    const buffer = this.#terminal.buffer.active;
    return withoutTrailingBlankRows(Array.from({ length: buffer.length }, (_, index) => buffer.getLine(index)!.translateToString(true)));
  }
}

/**
 * A terminal that rewraps its lines when resized, the cursor's line included, and keeps the cursor at the same place
 * in its line. It knows what the CLI sends: text, `\r`, `\n` (as `\r\n`), erase line and erase below, cursor up, and
 * SGR (ignored); anything else fails the test.
 */
class ReflowingScreen implements Screen {
  #columns: number;
  #lines: { cells: string[]; continued: boolean }[] = [{ cells: [], continued: false }];
  #row = 0;
  #column = 0;
  // After the last column is written the cursor stays on it until the next character wraps.
  #wrapPending = false;

  constructor(columns: number) {
    this.#columns = columns;
  }

  async write(data: string): Promise<void> {
    for (const [token] of data.matchAll(/\x1b\[[\d;]*[A-Za-z]|[^]/gu)) this.#apply(token);
  }

  resize(columns: number): void {
    const logical: { text: string[]; cursor: number | null }[] = [];
    this.#lines.forEach((line, index) => {
      if (!line.continued || logical.length === 0) logical.push({ text: [], cursor: null });
      const current = logical.at(-1)!;
      const start = current.text.length;
      current.text.push(...line.cells);
      // A row that the next one continues was full.
      if (this.#lines[index + 1]?.continued === true) while (current.text.length < start + this.#columns) current.text.push(' ');
      if (index === this.#row) current.cursor = start + this.#column + (this.#wrapPending ? 1 : 0);
    });
    this.#columns = columns;
    this.#lines = [];
    for (const { text, cursor } of logical) {
      const first = this.#lines.length;
      for (let start = 0; start === 0 || start < text.length; start += columns) this.#lines.push({ cells: text.slice(start, start + columns), continued: start > 0 });
      if (cursor === null) continue;
      const atEnd = cursor > 0 && cursor === text.length && cursor % columns === 0;
      this.#row = first + Math.floor(cursor / columns) - (atEnd ? 1 : 0);
      this.#column = atEnd ? columns - 1 : cursor % columns;
      this.#wrapPending = atEnd;
      while (this.#lines.length <= this.#row) this.#lines.push({ cells: [], continued: true });
    }
  }

  rows(): string[] {
    return withoutTrailingBlankRows(this.#lines.map((line) => line.cells.join('').trimEnd()));
  }

  #apply(token: string): void {
    if (token === '\r') [this.#column, this.#wrapPending] = [0, false];
    else if (token === '\n') this.#nextRow(false);
    else if (token.startsWith('\x1b[')) this.#control(token);
    else this.#print(token);
  }

  #print(character: string): void {
    if (this.#wrapPending) this.#nextRow(true);
    const cells = this.#lines[this.#row]!.cells;
    while (cells.length < this.#column) cells.push(' ');
    cells[this.#column] = character;
    if (this.#column === this.#columns - 1) this.#wrapPending = true;
    else this.#column++;
  }

  #nextRow(continued: boolean): void {
    [this.#row, this.#column, this.#wrapPending] = [this.#row + 1, 0, false];
    if (this.#row === this.#lines.length) this.#lines.push({ cells: [], continued });
    else if (continued) this.#lines[this.#row]!.continued = true;
  }

  #control(sequence: string): void {
    const cells = this.#lines[this.#row]!.cells;
    if (sequence === '\x1b[2K') cells.length = 0;
    else if (sequence === '\x1b[J' || sequence === '\x1b[0J') {
      cells.length = Math.min(cells.length, this.#column);
      this.#lines.length = this.#row + 1;
    } else if (sequence.endsWith('A')) [this.#row, this.#wrapPending] = [Math.max(0, this.#row - Number(sequence.slice(2, -1) || 1)), false];
    else if (!sequence.endsWith('m')) throw new Error(`The test terminal does not know ${JSON.stringify(sequence)}`);
  }
}

function withoutTrailingBlankRows(rows: string[]): string[] {
  const last = rows.findLastIndex((row) => row !== '');
  return rows.slice(0, last + 1);
}

/** A terminal as Node's stderr presents it: a TTY with a width that changes when the window does. */
class FakeTty {
  readonly isTTY = true;
  output = '';
  constructor(public columns: number) {}
  write(text: string): boolean {
    this.output += text;
    return true;
  }
}

/** The three things a ProgressLine reads of a flow, with the signals under the test's control. */
class FakeFlow implements ProgressSource {
  nextPollAt: Date | null = new Date(T0 + 8_000);
  userCodeExpirationAt: Date | null = new Date(T0 + 900_000);
  readonly #listeners = new Map<DeviceFlowSignalName, (() => void)[]>();

  on<K extends DeviceFlowSignalName>(name: K, listener: (...args: DeviceFlowSignals[K]) => void): () => void {
    // The ProgressLine's listeners take no arguments, so none are passed.
    this.#listeners.set(name, [...(this.#listeners.get(name) ?? []), listener as () => void]);
    return () => undefined;
  }

  emit(name: DeviceFlowSignalName): void {
    for (const listener of this.#listeners.get(name) ?? []) listener();
  }
}

const PROMPT: UserCodePrompt = {
  verificationUrl: new URL('https://example.com/device'),
  userCode: 'WDJB-MJHT',
  completeVerificationUrl: new URL('https://example.com/device?user_code=WDJB-MJHT'),
  expiresAt: new Date(T0 + 900_000),
  extraTokens: {},
};

const APPROVED = '\nThe simulated user signed in as demo-user and approved on the server’s pages.\n';

/**
 * A CLI session on a fake terminal `columns` wide, wired as `device-flow` wires it: one filtered stderr for the
 * progress line and everyone else. What the others write is also kept apart, to replay without the progress line.
 */
function session(columns: number) {
  const tty = new FakeTty(columns);
  const stderr = terminalSafeStream(tty);
  let othersOutput = '';
  const resizes: { columns: number; output: number; othersOutput: number }[] = [];
  const others = {
    isTTY: true,
    write(text: string) {
      othersOutput += text;
      return stderr.write(text);
    },
  };
  const flow = new FakeFlow();
  const progress = new ProgressLine(stderr);
  progress.attach(flow);
  /** The screen of a new `Terminal` after everything so far, resizes included; `others` only, or all. */
  async function screen(Terminal: new (columns: number) => Screen, { othersOnly = false } = {}): Promise<string[]> {
    const terminal = new Terminal(columns);
    const output = othersOnly ? othersOutput : tty.output;
    let from = 0;
    for (const resize of resizes) {
      const to = othersOnly ? resize.othersOutput : resize.output;
      await terminal.write(output.slice(from, to));
      terminal.resize(resize.columns);
      from = to;
    }
    await terminal.write(output.slice(from));
    return terminal.rows();
  }
  return {
    others,
    flow,
    progress,
    screen,
    resize(width: number) {
      tty.columns = width;
      resizes.push({ columns: width, output: tty.output.length, othersOutput: othersOutput.length });
    },
  };
}

const seconds = (count: number) => vi.advanceTimersByTime(count * 1000);

describe.each([
  ['xterm.js', XtermScreen],
  ['a terminal that rewraps the cursor line', ReflowingScreen],
] as const)('the progress line on %s', (_, Terminal) => {
  beforeEach(() => {
    // Not setTimeout: xterm.js parses what it is sent on a timer of its own.
    vi.useFakeTimers({ now: T0, toFake: ['setInterval', 'clearInterval', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    [120, 'Waiting for approval · code expires in 14:55 · next check in 0:03'],
    [50, 'Waiting for approval · code expires in 14:55…'],
  ])('at %i columns: one line, fitted, under the text written while it runs, and none after stop()', async (columns, expected) => {
    const { others, flow, progress, screen } = session(columns);
    showUserCode(others, PROMPT, { qr: false });
    flow.emit('authorizeWithUserCode');
    seconds(3);
    others.write(APPROVED);
    seconds(2);
    const approvedScreen = await screen(Terminal, { othersOnly: true });
    expect(approvedScreen.join('')).toContain(APPROVED.trim());
    expect(await screen(Terminal)).toEqual([...approvedScreen, expected]);
    progress.stop();
    expect(await screen(Terminal)).toEqual(approvedScreen);
  });

  it('follows a resize: the next redraw fits the new width, and clearing removes every row of the old line', async () => {
    const { others, flow, progress, screen, resize } = session(120);
    showUserCode(others, PROMPT, { qr: false });
    flow.emit('authorizeWithUserCode');
    const withProgress = async (line: string) => [...(await screen(Terminal, { othersOnly: true })), line];
    seconds(1);
    resize(40);
    // Written before the line is redrawn at the new width, while the old line may fill two rows.
    others.write('Still waiting.\n');
    seconds(1);
    expect(await screen(Terminal)).toEqual(await withProgress('Waiting for approval · code expires…'));
    resize(100);
    seconds(1);
    expect(await screen(Terminal)).toEqual(await withProgress('Waiting for approval · code expires in 14:57 · next check in 0:05'));
    // Narrower again, and nothing else written: the redraw alone removes the rows the old line was wrapped onto.
    resize(30);
    seconds(1);
    expect(await screen(Terminal)).toEqual(await withProgress('Waiting for approval · cod…'));
    resize(20);
    progress.stop();
    expect(await screen(Terminal)).toEqual(await screen(Terminal, { othersOnly: true }));
  });
});

describe('fitToWidth', () => {
  it.each([
    ['short', 10, 'short'],
    ['exactly nine', 13, 'exactly nine'],
    ['exactly nine', 12, 'exactly n…'],
    ['a · b', 7, 'a · b'],
    ['a · b', 6, 'a…'],
    ['a · b · c', 8, 'a…'],
    ['abc', 2, ''],
    ['abc', 3, '…'],
    ['x'.repeat(100), 0, `${'x'.repeat(77)}…`],
    ['x'.repeat(100), undefined, `${'x'.repeat(77)}…`],
  ])('%j in %s columns → %j (the last column left free, non-ASCII counted wide)', (text, columns, fitted) => {
    expect(fitToWidth(text, columns)).toBe(fitted);
  });
});

// jsqr is CommonJS: imported by Node's rules, its default export is module.exports, whose `default` is the decoder.
const jsQR = jsqr.default;

type Rgb = readonly [number, number, number];

/** A terminal's default colours. */
const THEMES = {
  dark: { foreground: [0xd4, 0xd4, 0xd4], background: [0x1e, 0x1e, 0x1e] },
  light: { foreground: [0x33, 0x33, 0x33], background: [0xff, 0xff, 0xff] },
} satisfies Record<string, { foreground: Rgb; background: Rgb }>;

/** The 256-colour palette's entries a terminal shows the same whatever its theme. */
const CUBE: Record<number, Rgb> = { 16: [0, 0, 0], 231: [0xff, 0xff, 0xff] };

const QR_LINE = /^(?:\x1b\[[\d;]*m|[ ▀▄█])+$/u;

/** The QR code's lines in what the CLI wrote: the last run of lines made of half blocks, spaces and SGR only. */
function qrBlock(output: string): string[] {
  const lines = output.split('\n');
  const end = lines.findLastIndex((line) => QR_LINE.test(line)) + 1;
  let start = end;
  while (start > 0 && QR_LINE.test(lines[start - 1]!)) start--;
  return lines.slice(start, end);
}

/** Each character cell's top and bottom halves, in colour, as `theme` shows the SGR colours and half blocks. */
function cellColours(line: string, theme: { foreground: Rgb; background: Rgb }): [Rgb, Rgb][] {
  let foreground: Rgb | null = null;
  let background: Rgb | null = null;
  const cells: [Rgb, Rgb][] = [];
  for (const [token, parameters] of line.matchAll(/\x1b\[([\d;]*)m|[^]/gu)) {
    if (parameters === undefined) {
      const [ink, paper] = [foreground ?? theme.foreground, background ?? theme.background];
      const halves = ({ ' ': [paper, paper], '▀': [ink, paper], '▄': [paper, ink], '█': [ink, ink] } as const)[token as ' '];
      if (halves === undefined) throw new Error(`Not a QR character: ${JSON.stringify(token)}`);
      cells.push([...halves]);
      continue;
    }
    const codes = parameters.split(';').map(Number);
    for (let index = 0; index < codes.length; index++) {
      const code = codes[index]!;
      if (code === 0) [foreground, background] = [null, null];
      else if (code === 39) foreground = null;
      else if (code === 49) background = null;
      else if ((code === 38 || code === 48) && codes[index + 1] === 5) {
        const colour = CUBE[codes[index + 2]!];
        if (colour === undefined) throw new Error(`A colour the test does not know: ${codes[index + 2]}`);
        if (code === 38) foreground = colour;
        else background = colour;
        index += 2;
      } else throw new Error(`An SGR code the test does not know: ${code}`);
    }
  }
  return cells;
}

/** The QR block as a picture of the terminal: each cell 4 pixels wide and 8 high, in a margin of the theme's background. */
function rasterise(block: string[], theme: { foreground: Rgb; background: Rgb }) {
  const scale = 4;
  const margin = 8;
  const cells = block.map((line) => cellColours(line, theme));
  const width = (Math.max(...cells.map((row) => row.length)) + 2 * margin) * scale;
  const height = (cells.length * 2 + 2 * margin) * scale;
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [column, halfRow] = [Math.floor(x / scale) - margin, Math.floor(y / scale) - margin];
      const cell = cells[Math.floor(halfRow / 2)]?.[column];
      const colour = cell === undefined || halfRow < 0 || column < 0 ? theme.background : cell[halfRow % 2]!;
      data.set([...colour, 255], (y * width + x) * 4);
    }
  }
  return { data, width, height };
}

/**
 * What a scanner reads in `block` on `theme`: one that looks for dark modules on a light ground, as the standard draws
 * them (jsQR is told not to try the inverted picture as well, which would hide the problem), or with `inverted`, one
 * that reads the negative.
 */
function scan(block: string[], theme: keyof typeof THEMES, { inverted = false } = {}): string | null {
  const { data, width, height } = rasterise(block, THEMES[theme]);
  // jsQR's own 'onlyInvert' skips making the negative it then reads (jsqr 1.4.0), so the test makes it.
  if (inverted) for (let index = 0; index < data.length; index++) if (index % 4 !== 3) data[index] = 255 - data[index]!;
  return jsQR(data, width, height, { inversionAttempts: 'dontInvert' })?.data ?? null;
}

/** What `showUserCode` sends to a terminal (or not) for `url`, through the CLI's filter. */
function printedQrCode(url: string, isTTY: boolean): string[] {
  const stream = { isTTY, output: '', write: (text: string) => (stream.output += text) };
  const prompt = { ...PROMPT, completeVerificationUrl: new URL(url) };
  showUserCode(terminalSafeStream(stream), prompt, { qr: true });
  return qrBlock(stream.output);
}

const URLS = [
  'https://example.com/device?user_code=WDJB-MJHT',
  'http://127.0.0.1:53117/device?user_code=BCDF-GHJK',
  'https://login.microsoftonline.com/common/oauth2/deviceauth?otc=F7KQ-2LMP&client_id=04b07795-8ddb-461a-bbee-02f9e1bf7b46',
];

describe('the QR code', () => {
  it.each(URLS)('scans on a dark and on a light theme alike: %s', (url) => {
    const block = printedQrCode(url, true);
    expect(scan(block, 'dark')).toBe(url);
    expect(scan(block, 'light')).toBe(url);
  });

  it('paints its own colours and a quiet zone of 4 modules on a terminal', () => {
    const block = printedQrCode(URLS[0]!, true);
    for (const line of block) expect(line).toMatch(/^\x1b\[38;5;16;48;5;231m {4}[ ▀▄█]+ {4}\x1b\[39;49m$/u);
    // Two lines are four rows of modules.
    expect(block.slice(0, 2).join('\n')).toMatch(/^(?:\x1b\[[\d;]*m| )+\n(?:\x1b\[[\d;]*m| )+$/);
    expect(block.slice(-2).join('\n')).toMatch(/^(?:\x1b\[[\d;]*m| )+\n(?:\x1b\[[\d;]*m| )+$/);
  });

  it('without a terminal, has no colours and scans as printed: dark on light, and inverted on dark', () => {
    const url = URLS[0]!;
    const block = printedQrCode(url, false);
    expect(block.join('\n')).not.toContain('\x1b');
    expect(scan(block, 'light')).toBe(url);
    // Text alone cannot say which of its two colours is dark: on a dark ground it takes a scanner that inverts.
    expect(scan(block, 'dark')).toBeNull();
    expect(scan(block, 'dark', { inverted: true })).toBe(url);
  });

  it('the rendering this replaced (light modules drawn, a quiet zone of one module) does not scan on a light theme', () => {
    const url = URLS[0]!;
    const block = renderUnicodeCompact(url, { border: 1 }).split('\n');
    expect(scan(block, 'dark')).toBe(url);
    expect(scan(block, 'light')).toBeNull();
    expect(scan(block, 'light', { inverted: true })).toBe(url);
  });
});
