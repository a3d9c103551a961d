/**
 * One device login on the command line: show the code, follow the polling, report the result with its exit code.
 *
 * @module
 */

import { authorizeDevice, type DeviceTokens, type UserCodePrompt } from '../promise/authorizeDevice.js';
import { isDeviceFlowError, MissingPackageError } from '../core/errors.js';
import { generateDpopKeyPair, type SavedDpopKey } from '../core/protocol/dpop.js';
import type { DeviceFlowOptions, OAuth2DeviceAuthorizationFlow } from '../flow/oauth2DeviceAuthorizationFlow.js';
import type { OutputOptions } from './args.js';
import { EXIT_CODES, type Outcome, outcomeOf } from './exitCodes.js';
import type { LoginProfile } from './loginProfile.js';
import { type InspectorRelay, startInspectorRelay } from '../node/inspectorRelay.js';
import { printable } from '../core/printable.js';
import { jsonLine, type OutputStream, ProgressLine, showUserCode, tokenSummary } from './terminal.js';
import { tokensAsJson, writeTokenFile } from './tokenFile.js';

/** Where the CLI writes, and what stops it. */
export interface CliIO {
  stdout: OutputStream;
  stderr: OutputStream;
  /** Aborts when the user presses Ctrl-C. */
  interrupt: AbortSignal;
}

/** Why a login was abandoned before it ended. */
class Abandoned extends Error {
  constructor(readonly outcome: 'cancelled' | 'timeout') {
    super(outcome === 'cancelled' ? 'Cancelled' : 'Timed out');
  }
}

/**
 * Runs a login with `flowOptions` and prints what happens.
 *
 * @param onUserCode also called with the code, after it is shown (the demo's simulated user starts there).
 * @param profile where the session is saved, if anywhere.
 * @returns the exit code.
 */
export async function runLogin(
  flowOptions: DeviceFlowOptions,
  output: OutputOptions,
  io: CliIO,
  onUserCode?: (prompt: UserCodePrompt) => void,
  profile?: LoginProfile,
): Promise<number> {
  const controller = new AbortController();
  const cancel = () => controller.abort(new Abandoned('cancelled'));
  io.interrupt.addEventListener('abort', cancel, { once: true });
  // Ctrl-C may have come before this login began (while the demo's server started).
  if (io.interrupt.aborted) cancel();
  const timer = output.timeout === null ? null : setTimeout(() => controller.abort(new Abandoned('timeout')), output.timeout * 1000);
  const progress = new ProgressLine(io.stderr);
  let relay: InspectorRelay | null = null;
  let flow: OAuth2DeviceAuthorizationFlow | null = null;
  try {
    if (output.inspect) {
      relay = await startInspectorRelay();
      io.stderr.write(
        `Inspector relay on ${relay.url} (127.0.0.1 only): open it in a browser that can reach stately.ai, whose inspector it embeds.\n`,
      );
    }
    // Extractable only when the key must be kept beside the tokens it binds (--output, --json, a profile): they are
    // useless without it.
    const extractable = output.output !== null || output.json || profile !== undefined;
    const dpopKeyPair = output.dpop ? await generateDpopKeyPair('ES256', { extractable }) : undefined;
    const tokens = await authorizeDevice(
      { ...flowOptions, ...(relay === null ? {} : { inspect: relay.inspect }), ...(dpopKeyPair === undefined ? {} : { dpopKeyPair }) },
      {
        signal: controller.signal,
        ...(profile === undefined ? {} : { tokenStore: profile.tokenStore(flowOptions) }),
        onFlow: (started) => {
          flow = started;
          progress.attach(started);
        },
        onUserCode: (prompt) => {
          showUserCode(io.stderr, prompt, { qr: output.qr });
          if (output.open !== null) void openInBrowser((prompt.completeVerificationUrl ?? prompt.verificationUrl).href, output.open, io);
          onUserCode?.(prompt);
        },
      },
    );
    progress.stop();
    const dpopKey = dpopKeyPair?.privateKey.extractable ? await exportDpopKey(dpopKeyPair) : undefined;
    const notSaved = output.output === null ? null : await saveTokens(output.output, tokens, dpopKey, io);
    const profileError = profile === undefined ? null : await profile.commit(io);
    io.stdout.write(
      output.json
        ? jsonLine({
            status: 'granted',
            ...tokensAsJson(tokens, dpopKey),
            ...(notSaved === null ? {} : { outputError: notSaved }),
            ...(profileError === null ? {} : { profileError }),
          })
        : tokenSummary(tokens),
    );
    return notSaved === null && profileError === null ? EXIT_CODES.granted : EXIT_CODES.notSaved;
  } catch (error) {
    progress.stop();
    if (profile !== undefined) {
      // Saves still under way land first; then the profile holds what it held before this login.
      await (flow as OAuth2DeviceAuthorizationFlow | null)?.saved();
      await profile.rollback(io);
    }
    // Not an outcome of the login, which never began: run() says what to install.
    if (error instanceof MissingPackageError) throw error;
    const outcome: Outcome = error instanceof Abandoned ? error.outcome : outcomeOf(error);
    io.stderr.write(`device-flow: ${describeFailure(outcome, error)}\n`);
    if (output.json) io.stdout.write(jsonLine({ status: outcome, error: errorAsJson(error) }));
    return EXIT_CODES[outcome];
  } finally {
    if (timer !== null) clearTimeout(timer);
    io.interrupt.removeEventListener('abort', cancel);
    await relay?.stop();
  }
}

/**
 * Opens `url` in the user's browser with the `open` package (loaded only now); in an SSH session it says why it does
 * not, since the browser would open on the remote machine.
 */
async function openInBrowser(url: string, where: 'browser' | 'ssh', io: CliIO): Promise<void> {
  if (where === 'ssh') {
    io.stderr.write('Not opening a browser: this is an SSH session, where it would open on the remote machine. Open the URL on your own device.\n');
    return;
  }
  try {
    const { default: open } = await import('open');
    await open(url);
  } catch (error) {
    io.stderr.write(`device-flow: could not open a browser (${printable((error as Error).message)}); open the URL yourself.\n`);
  }
}

/** The DPoP key as JWKs, to keep beside the tokens bound to it. */
async function exportDpopKey(keyPair: CryptoKeyPair): Promise<SavedDpopKey> {
  const [privateJwk, publicJwk] = await Promise.all([crypto.subtle.exportKey('jwk', keyPair.privateKey), crypto.subtle.exportKey('jwk', keyPair.publicKey)]);
  return { algorithm: 'ES256', privateJwk, publicJwk };
}

/** Writes the token file; returns why it failed, or `null`. */
async function saveTokens(path: string, tokens: DeviceTokens, dpopKey: SavedDpopKey | undefined, io: CliIO): Promise<string | null> {
  try {
    await writeTokenFile(path, tokens, dpopKey);
    io.stderr.write(`Tokens written to ${path} (readable by you only).\n`);
    return null;
  } catch (error) {
    const reason = (error as Error).message;
    io.stderr.write(`device-flow: the sign-in succeeded, but the tokens could not be written to ${path}: ${reason}\n`);
    return reason;
  }
}

function describeFailure(outcome: Outcome, error: unknown): string {
  // One line, whatever the message holds.
  const detail = printable(error instanceof Error ? error.message : String(error));
  switch (outcome) {
    case 'cancelled':
      return 'cancelled.';
    case 'timeout':
      return 'gave up: --timeout ran out before the sign-in completed.';
    case 'denied':
      return `the sign-in was declined (${detail}).`;
    case 'expired':
      return `the code expired before the sign-in completed (${detail}); run the command again for a new one.`;
    case 'network':
      return `could not reach the authorization server: ${detail}`;
    case 'configuration':
      return `the client or server configuration was refused: ${detail}`;
    default:
      return `the authorization server failed: ${detail}`;
  }
}

function errorAsJson(error: unknown): object {
  if (isDeviceFlowError(error)) return error.toData();
  return { message: error instanceof Error ? error.message : String(error) };
}
