/**
 * What `device-flow` shows: the code with its QR code, a progress line, the result. Human text goes to stderr, the
 * result to stdout; nothing here prints a whole token.
 *
 * @module
 */

import { renderUnicodeCompact } from 'uqr';
import type { DeviceTokens, UserCodePrompt } from '../promise/authorizeDevice.js';
import type { OAuth2DeviceAuthorizationFlow } from '../flow/oauth2DeviceAuthorizationFlow.js';
import { printable, UNSAFE_CHARACTERS } from '../core/printable.js';

/** The part of a stream the CLI writes to. */
export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

const BOLD = (text: string, tty: boolean) => (tty ? `\x1b[1m${text}\x1b[22m` : text);

// The CLI's own control sequences (bold on and off, clear the line) and line breaks pass; every other character of
// UNSAFE_CHARACTERS, wherever it came from, becomes a space.
const TERMINAL_FILTER = new RegExp(`\\x1b\\[(?:1m|22m|2K)|\\n|\\r|${UNSAFE_CHARACTERS.source}`, 'g');

/**
 * `text` as it may reach a terminal: the one filter every line the CLI writes passes through, so that a server's
 * words (a `message`, an error description, a scope) cannot move the cursor, run a terminal command or reorder what
 * the user reads. Only the CLI's own bold and clear-line sequences and line breaks are kept.
 */
export function terminalSafe(text: string): string {
  return text.replace(TERMINAL_FILTER, (match) => (match.length > 1 || match === '\n' || match === '\r' ? match : ' '));
}

/** `stream`, with everything written to it passed through {@link terminalSafe}. */
export function terminalSafeStream(stream: OutputStream): OutputStream {
  return {
    write: (text: string) => stream.write(terminalSafe(text)),
    get isTTY() {
      return stream.isTTY;
    },
  };
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
  if (qr) lines.push('', renderUnicodeCompact((prompt.completeVerificationUrl ?? prompt.verificationUrl).href, { border: 1 }));
  stream.write(`${lines.join('\n')}\n`);
}

/**
 * The progress of a flow: one line rewritten every second on a terminal (a countdown to the code's expiry and to the
 * next check), or a plain line per check otherwise.
 */
export class ProgressLine {
  readonly #stream: OutputStream;
  readonly #now: () => number;
  #flow: OAuth2DeviceAuthorizationFlow | null = null;
  #ticker: ReturnType<typeof setInterval> | null = null;
  #shown = false;

  constructor(stream: OutputStream, now: () => number = Date.now) {
    this.#stream = stream;
    this.#now = now;
  }

  /** Follows `flow` from now on. */
  attach(flow: OAuth2DeviceAuthorizationFlow): void {
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
    if (this.#shown) this.#stream.write('\r\x1b[2K');
    this.#shown = false;
  }

  #start(): void {
    if (this.#stream.isTTY !== true || this.#ticker !== null) return;
    const render = () => {
      this.#stream.write(`\r\x1b[2K${this.#describe()}`);
      this.#shown = true;
    };
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
  const rows: [string, string][] = [['access token', redactToken(tokens.accessToken)]];
  if (tokens.expiresAt) rows.push(['expires', `${tokens.expiresAt.toISOString()} (in ${formatDuration(tokens.expiresAt.getTime() - now)})`]);
  if (tokens.refreshToken) rows.push(['refresh token', redactToken(tokens.refreshToken)]);
  if (tokens.idToken) rows.push(['ID token', redactToken(tokens.idToken)]);
  rows.push(['scope', tokens.scope.length > 0 ? printable(tokens.scope.join(' ')) : '(as requested)']);
  return `Signed in.\n${rows.map(([name, value]) => `  ${name.padEnd(14)} ${value}`).join('\n')}\n`;
}
