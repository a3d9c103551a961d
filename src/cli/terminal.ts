/**
 * What `device-flow` shows: the code with its QR code, a progress line, the result. Human text goes to stderr, the
 * result to stdout; nothing here prints a whole token.
 *
 * @module
 */

import { encode } from 'uqr';
import type { DeviceTokens, UserCodePrompt } from '../promise/authorizeDevice.js';
import type { OAuth2DeviceAuthorizationFlow } from '../flow/oauth2DeviceAuthorizationFlow.js';
import { printable, UNSAFE_CHARACTERS } from '../core/printable.js';

/** The part of a stream the CLI writes to. */
export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean;
  /** The terminal's width in columns, when known: a TTY stream's, which Node keeps up to date when it is resized. */
  columns?: number;
}

/**
 * A stream that keeps one status line below everything else written to it: other text is written where the line
 * was, and the line is drawn again under it. {@link terminalSafeStream} makes one.
 */
export interface StatusLineStream extends OutputStream {
  /** Shows `text` (one line, fitted to the terminal's width) as the status line, or removes the line (`null`). */
  setStatusLine(text: string | null): void;
}

const BOLD = (text: string, tty: boolean) => (tty ? `\x1b[1m${text}\x1b[22m` : text);

/** Dark modules black, light ones white: 256-colour cube entries (16 is #000000, 231 #ffffff) that themes leave alone. */
const QR_COLOURS = '\x1b[38;5;16;48;5;231m';
/** Back to the theme's own foreground and background. */
const DEFAULT_COLOURS = '\x1b[39;49m';
/** Clears the status line from its start, with the rows a resize may have wrapped it onto. */
const ERASE_DOWN = '\x1b[J';

// The CLI's own control sequences (bold on and off, clear the line, clear below, the QR code's colours and their
// reset) and line breaks pass; every other character of UNSAFE_CHARACTERS, wherever it came from, becomes a space.
const TERMINAL_FILTER = new RegExp(
  `\\x1b\\[(?:1m|22m|2K|J|38;5;16;48;5;231m|39;49m)|\\n|\\r|${UNSAFE_CHARACTERS.source}`,
  'g',
);

/**
 * `text` as it may reach a terminal: the one filter every line the CLI writes passes through, so that a server's
 * words (a `message`, an error description, a scope) cannot move the cursor, run a terminal command or reorder what
 * the user reads. Only the CLI's own bold, clear-line, clear-below and QR-colour sequences and line breaks are kept.
 */
export function terminalSafe(text: string): string {
  return text.replace(TERMINAL_FILTER, (match) => (match.length > 1 || match === '\n' || match === '\r' ? match : ' '));
}

/**
 * `stream`, with everything written to it passed through {@link terminalSafe}, and a status line that other text
 * never runs into: a write first clears the line, and once the text ends a line the status line is drawn below it.
 */
export function terminalSafeStream(stream: OutputStream): StatusLineStream {
  return new SafeTerminalStream(stream);
}

/** Whether `stream` can keep a status line (it came from {@link terminalSafeStream}). */
export function isStatusLineStream(stream: OutputStream): stream is StatusLineStream {
  return typeof (stream as Partial<StatusLineStream>).setStatusLine === 'function';
}

/** The width assumed when a terminal does not tell its own (a pseudo-terminal of size 0, a stream without one). */
const DEFAULT_COLUMNS = 80;

/**
 * Columns `character` may take: two for anything beyond ASCII, since `·` and `…` are East Asian Ambiguous and some
 * terminals draw them wide; a line measured this way never wraps, at worst it is cut a little early.
 */
function columnsOf(character: string): number {
  return character.charCodeAt(0) < 0x80 ? 1 : 2;
}

/**
 * `text` cut (with `…`) to fit one row of a terminal `columns` wide, leaving the last column free: a character
 * there leaves the cursor waiting to wrap, which terminals handle differently.
 */
export function fitToWidth(text: string, columns: number | undefined): string {
  const room = (columns !== undefined && columns > 0 ? columns : DEFAULT_COLUMNS) - 1;
  const characters = Array.from(text);
  if (characters.reduce((total, character) => total + columnsOf(character), 0) <= room) return text;
  if (room < columnsOf('…')) return '';
  let kept = '';
  let used = columnsOf('…');
  for (const character of characters) {
    used += columnsOf(character);
    if (used > room) break;
    kept += character;
  }
  // No space or dangling separator before the ellipsis.
  return `${kept.replace(/[\s·]+$/u, '')}…`;
}

/**
 * The stream {@link terminalSafeStream} returns. While the status line is on screen the cursor waits at its first
 * column, so that clearing from there (`\r\x1b[J`) removes all of it, even after a narrower window wrapped it onto
 * several rows: where the cursor ends up at the end of a wrapped line differs between terminals, its start does not.
 */
class SafeTerminalStream implements StatusLineStream {
  readonly #target: OutputStream;
  #status: string | null = null;
  #shown = false;
  // The status line is drawn only at the start of a line, not after a write that left a line unfinished.
  #atLineStart = true;

  constructor(target: OutputStream) {
    this.#target = target;
  }

  get isTTY(): boolean | undefined {
    return this.#target.isTTY;
  }

  get columns(): number | undefined {
    return this.#target.columns;
  }

  write(text: string): unknown {
    if (text === '') return this.#target.write(text);
    const erase = this.#erase();
    this.#atLineStart = text.endsWith('\n');
    return this.#target.write(terminalSafe(`${erase}${text}${this.#draw()}`));
  }

  setStatusLine(text: string | null): void {
    // One line: a line break or control in it would move the cursor off the line's start.
    this.#status = text === null ? null : printable(text);
    // Drawing overwrites a line on screen in place; only removing it needs the erase.
    const output = this.#status === null ? this.#erase() : this.#draw();
    if (output !== '') this.#target.write(terminalSafe(output));
  }

  /** What removes the status line from the screen, if it is there. */
  #erase(): string {
    if (!this.#shown) return '';
    this.#shown = false;
    return `\r${ERASE_DOWN}`;
  }

  /**
   * What draws the status line, if there is one and the cursor is at the start of a line: the line cleared, the
   * text, anything left below it erased (a resize may have wrapped the old text onto more rows), back to column 1.
   */
  #draw(): string {
    if (this.#status === null || !this.#atLineStart || this.#target.isTTY !== true) return '';
    this.#shown = true;
    return `\r\x1b[2K${fitToWidth(this.#status, this.#target.columns)}${ERASE_DOWN}\r`;
  }
}

// JSON.stringify escapes C0 controls only; the rest are escaped too, so that the value survives the terminal filter.
const UNESCAPED_BY_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `value` as one line of JSON, with every character a terminal could act on escaped (`\u009b`). */
export function jsonLine(value: unknown): string {
  return `${JSON.stringify(value).replace(UNESCAPED_BY_JSON, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`;
}

/** A token shortened to its first and last four characters, enough to tell tokens apart and useless to anyone else. */
export function redactToken(token: string): string {
  if (token === '') return '(none)';
  // Eight characters of a short token would be most of it.
  return token.length <= 16 ? '****' : `${token.slice(0, 4)}…${token.slice(-4)}`;
}

/** `90` → `1:30`. */
export function formatDuration(milliseconds: number): string {
  const total = Math.max(0, Math.ceil(milliseconds / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

/** Shows where to go and what to type, with a QR code of the complete URL (or of the plain one). */
export function showUserCode(stream: OutputStream, prompt: UserCodePrompt, { qr }: { qr: boolean }): void {
  const tty = stream.isTTY === true;
  const lines = [
    '',
    `To sign in, open ${BOLD(prompt.verificationUrl.href, tty)}`,
    `and enter the code ${BOLD(prompt.userCode, tty)}`,
  ];
  if (prompt.completeVerificationUrl) lines.push(`or open ${prompt.completeVerificationUrl.href}, which carries the code.`);
  const message = prompt.extraTokens.message;
  if (typeof message === 'string') lines.push(`(${printable(message)})`);
  if (qr) lines.push('', qrCode((prompt.completeVerificationUrl ?? prompt.verificationUrl).href, tty));
  stream.write(`${lines.join('\n')}\n`);
}

/** The quiet zone around a QR code, in modules: the minimum of ISO/IEC 18004, without which scanners may not find it. */
const QUIET_ZONE = 4;

/** A cell of two modules, one above the other: indexed by top dark (1) plus bottom dark (2). */
const HALF_BLOCKS = [' ', '▀', '▄', '█'] as const;

/**
 * `text` as a QR code in text, two rows of modules to a line: dark modules are drawn (`▀ ▄ █`), light ones are
 * spaces, with a {@link QUIET_ZONE} of light modules all round. On a terminal every line sets its own colours, black
 * on white, so the code reads the same whatever the theme's; elsewhere the text has no colours to carry, and reads as
 * printed on paper: dark on a light background (and inverted on a dark one, for scanners that try that).
 */
export function qrCode(text: string, tty: boolean): string {
  const modules = encode(text, { border: QUIET_ZONE }).data;
  const lines: string[] = [];
  for (let row = 0; row < modules.length; row += 2) {
    const top = modules[row]!;
    // An odd row count leaves the last line a light bottom half: more quiet zone.
    const bottom = modules[row + 1];
    const cells = top.map((dark, column) => HALF_BLOCKS[(dark ? 1 : 0) + (bottom?.[column] === true ? 2 : 0)]).join('');
    // Reset before the line break: a colour still set there would fill the new line on some terminals.
    lines.push(tty ? `${QR_COLOURS}${cells}${DEFAULT_COLOURS}` : cells);
  }
  return lines.join('\n');
}

/** What a {@link ProgressLine} reads from a flow. */
export type ProgressSource = Pick<OAuth2DeviceAuthorizationFlow, 'on' | 'nextPollAt' | 'userCodeExpirationAt'>;

/**
 * The progress of a flow: one status line rewritten every second on a terminal (a countdown to the code's expiry and
 * to the next check), fitted to the terminal's width and kept below whatever else is written to the same stream; or
 * a plain line per check otherwise.
 */
export class ProgressLine {
  readonly #stream: StatusLineStream;
  readonly #now: () => number;
  #flow: ProgressSource | null = null;
  #ticker: ReturnType<typeof setInterval> | null = null;

  /**
   * @param stream where the line goes: the CLI's stderr from {@link terminalSafeStream}, through which everyone else
   *   writes too, so that their text goes above the line instead of running into it.
   */
  constructor(stream: OutputStream, now: () => number = Date.now) {
    this.#stream = isStatusLineStream(stream) ? stream : terminalSafeStream(stream);
    this.#now = now;
  }

  /** Follows `flow` from now on. */
  attach(flow: ProgressSource): void {
    this.#flow = flow;
    flow.on('nextPollAtChanged', () => {
      if (this.#stream.isTTY !== true && flow.nextPollAt !== null) this.#stream.write(`${this.#describe()}\n`);
    });
    flow.on('authorizeWithUserCode', () => this.#start());
  }

  /** Removes the line (on a terminal) and stops updating it. */
  stop(): void {
    if (this.#ticker !== null) clearInterval(this.#ticker);
    this.#ticker = null;
    this.#stream.setStatusLine(null);
  }

  #start(): void {
    if (this.#stream.isTTY !== true || this.#ticker !== null) return;
    // Each redraw measures the terminal again, so a resize is caught within a second.
    const render = () => this.#stream.setStatusLine(this.#describe());
    render();
    this.#ticker = setInterval(render, 1000);
    this.#ticker.unref?.();
  }

  #describe(): string {
    const flow = this.#flow;
    if (flow === null) return '';
    const now = this.#now();
    const parts = ['Waiting for approval'];
    if (flow.userCodeExpirationAt) parts.push(`code expires in ${formatDuration(flow.userCodeExpirationAt.getTime() - now)}`);
    if (flow.nextPollAt) parts.push(`next check in ${formatDuration(flow.nextPollAt.getTime() - now)}`);
    return parts.join(' · ');
  }
}

/** The human summary of a grant, with every token shortened. */
export function tokenSummary(tokens: DeviceTokens, now: number = Date.now()): string {
  const expiry = (at: Date) => `${at.toISOString()} (in ${formatDuration(at.getTime() - now)})`;
  const rows: [string, string][] = [['access token', redactToken(tokens.accessToken)]];
  if (tokens.tokenType !== 'Bearer') rows.push(['token type', tokens.tokenType === 'DPoP' ? 'DPoP (bound to the key made for this run)' : printable(tokens.tokenType)]);
  if (tokens.expiresAt) rows.push(['expires', expiry(tokens.expiresAt)]);
  if (tokens.refreshToken) rows.push(['refresh token', redactToken(tokens.refreshToken)]);
  if (tokens.idToken) rows.push(['ID token', `${redactToken(tokens.idToken)}${tokens.idTokenClaims === null ? ' (not validated: no issuer known)' : ' (validated)'}`]);
  const claims = tokens.idTokenClaims;
  if (claims !== null) {
    // What the validated token says about whom, from where, until when; the values are the server's: made printable.
    rows.push(['  issuer', printable(String(claims['iss']))], ['  subject', printable(String(claims['sub']))]);
    if (typeof claims['exp'] === 'number') rows.push(['  expires', expiry(new Date(claims['exp'] * 1000))]);
  }
  rows.push(['scope', tokens.scope.length > 0 ? printable(tokens.scope.join(' ')) : '(as requested)']);
  return `Signed in.\n${rows.map(([name, value]) => `  ${name.padEnd(14)} ${value}`).join('\n')}\n`;
}
