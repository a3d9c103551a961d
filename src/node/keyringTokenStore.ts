/**
 * A token store in the operating system's keychain (macOS Keychain, Windows Credential Manager, a Secret Service on
 * Linux such as GNOME Keyring or KWallet), through the optional `@napi-rs/keyring` package.
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import { DeviceFlowError, MissingPackageError } from '../core/errors.js';
import { invalidSetting, requirePositiveNumber } from '../core/optionChecks.js';
import { printable } from '../core/printable.js';
import { redactForms, sanitizeCause, secretForms } from '../core/redact.js';
import { type FileLockOptions, withFileLock } from './fileLock.js';
import type { LockingTokenStore } from './fileTokenStore.js';

/**
 * Options of {@link createKeyringTokenStore}.
 *
 * @see [keyring-rs, the library under @napi-rs/keyring](https://docs.rs/keyring)
 * @see [The Secret Service API](https://specifications.freedesktop.org/secret-service-spec/latest/)
 */
export interface KeyringTokenStoreOptions extends FileLockOptions {
  /** The keychain entry's service name: `oauth2-device-flow` by default; your application's name is better. */
  service?: string;
  /** The keychain entry's account (user) name: one entry per user, or per flow, of the application. */
  account: string;
  /**
   * A lock file to hold while refreshing ({@link withFileLock}), so that processes using the same entry take turns.
   * Without it, the lock orders the callers of this process only.
   */
  lockFile?: string;
  /**
   * Values longer than this many characters (UTF-16 code units) are split across entries `account`, `account#1`, …:
   * 1,000 on Windows, whose Credential Manager keeps at most 2,560 bytes per secret and a snapshot takes several KB;
   * no splitting elsewhere.
   */
  chunkSize?: number;
  /**
   * On Linux, the store to keep the entry in: the Secret Service (`secret-service`, by default: GNOME Keyring,
   * KWallet, KeePassXC), or the kernel's keyring (`keyutils`), which forgets it at logout or reboot. There is no
   * silent fallback from one to the other, so that a value saved in one is never looked for in the other, and a
   * missing Secret Service is reported as such. Ignored elsewhere.
   */
  linuxStore?: 'secret-service' | 'keyutils';
}

/** What this module uses of `@napi-rs/keyring`'s `AsyncEntry`. */
interface KeyringEntry {
  getPassword(): Promise<string | null>;
  setPassword(password: string): Promise<void>;
  deleteCredential(): Promise<boolean>;
}

interface KeyringModule {
  AsyncEntry: new (service: string, account: string, options?: { linux?: { store?: string } }) => KeyringEntry;
}

/** How the first entry of a value split across several begins: the prefix, then `<count>:<generation>;`. */
const CHUNK_HEADER = 'oauth2-device-flow/chunks:';
const CHUNK_HEADER_PATTERN = /^oauth2-device-flow\/chunks:([1-9][0-9]{0,5}):([0-9a-f]{8});/;
/** How many times a load re-reads a value whose parts came from different saves (one was being saved meanwhile). */
const MIXED_READ_TRIES = 3;

/** Per keychain entry: the end of the queue of this process's loads, saves and clears, which must not interleave. */
const operationQueues = new Map<string, Promise<void>>();
/** Per keychain entry: the end of the queue of this process's lock holders, when there is no lock file. */
const lockQueues = new Map<string, Promise<void>>();

let keyringModule: Promise<KeyringModule> | undefined;

/**
 * A token store in the OS keychain, over `@napi-rs/keyring` (an optional dependency, loaded on first use: importing
 * `oauth2-device-flow/node` never needs it). The value is the entry's password; a value longer than `chunkSize` is
 * split across entries `account`, `account#1`, … whose first says how many there are; a save removes the parts a
 * longer value left, a clear removes them all.
 *
 * Errors of the keychain (no Secret Service running, a locked keychain, access denied) are `ClientError`s that name
 * the cause, and never the value.
 *
 * @throws {DeviceFlowError} `ClientError` for an invalid option; (from its methods) `ClientError` saying what to
 *   install when `@napi-rs/keyring` is not installed, and when the keychain fails or a split value has lost a part.
 * @see [keyring-rs, the library under @napi-rs/keyring](https://docs.rs/keyring)
 * @see [The Secret Service API](https://specifications.freedesktop.org/secret-service-spec/latest/)
 * @see [Windows CREDENTIAL, CRED_MAX_CREDENTIAL_BLOB_SIZE](https://learn.microsoft.com/en-us/windows/win32/api/wincred/ns-wincred-credentialw)
 * @example
 * ```ts
 * import { createKeyringTokenStore } from 'oauth2-device-flow/node';
 * const tokenStore = createKeyringTokenStore({ service: 'my-app', account: 'default' });
 * const flow = await OAuth2DeviceAuthorizationFlow.load({ ...options, tokenStore });
 * ```
 */
export function createKeyringTokenStore(options: KeyringTokenStoreOptions): LockingTokenStore {
  const service = options.service ?? 'oauth2-device-flow';
  const account = options.account;
  if (typeof service !== 'string' || service === '') throw invalidSetting('service', 'must be a non-empty string');
  if (typeof account !== 'string' || account === '') throw invalidSetting('account', 'must be a non-empty string');
  const chunkSize = options.chunkSize === undefined ? (process.platform === 'win32' ? 1000 : Infinity) : requirePositiveNumber(options.chunkSize, 'chunkSize');
  if (chunkSize !== Infinity && !Number.isInteger(chunkSize)) throw invalidSetting('chunkSize', 'must be a whole number');
  const linuxStore = options.linuxStore ?? 'secret-service';
  if (linuxStore !== 'secret-service' && linuxStore !== 'keyutils') throw invalidSetting('linuxStore', "must be 'secret-service' or 'keyutils'");
  const key = `${service}\u0000${account}`;
  const where = `(service ${service}, account ${account})`;

  /** The entry for part `index` (0 is `account` itself). */
  const entry = async (index: number, secrets: readonly string[]): Promise<KeyringEntry> => {
    const { AsyncEntry } = await loadKeyring();
    try {
      return new AsyncEntry(service, index === 0 ? account : `${account}#${index}`, { linux: { store: linuxStore } });
    } catch (error) {
      throw keychainError(`open the keychain entry ${where}`, error, secrets);
    }
  };
  const call = async <T>(action: string, index: number, secrets: readonly string[], run: (entry: KeyringEntry) => Promise<T>): Promise<T> => {
    const target = await entry(index, secrets);
    try {
      return await run(target);
    } catch (error) {
      throw keychainError(`${action} the keychain entry ${where}`, error, secrets);
    }
  };
  const get = (index: number) => call('read', index, [], (target) => target.getPassword());
  const set = (index: number, value: string, secrets: readonly string[]) => call('save', index, secrets, (target) => target.setPassword(value));
  const remove = (index: number) => call('remove', index, [], (target) => target.deleteCredential());

  /** How many parts the value now kept has, read from its first entry (1 when it is not split, or unreadable). */
  const partCount = async (): Promise<number> => {
    const head = await get(0);
    return Number(head?.match(CHUNK_HEADER_PATTERN)?.[1] ?? 1);
  };
  /** Removes the parts from `from` on: at least those up to `known`, and any further ones an interrupted save left. */
  const removeParts = async (from: number, known: number) => {
    for (let index = Math.max(from, 1); ; index++) if (!(await remove(index)) && index >= known) break;
  };

  const load = async (): Promise<string | null> => {
    for (let attempt = 1; ; attempt++) {
      const head = await get(0);
      if (head === null) return null;
      if (!head.startsWith(CHUNK_HEADER)) return head;
      const header = head.match(CHUNK_HEADER_PATTERN);
      if (header === null) throw corrupt(where, 'its first part has an unreadable header');
      const [prefix, count, generation] = header as unknown as [string, string, string];
      const parts = [head.slice(prefix.length)];
      let mixed = false;
      for (let index = 1; index < Number(count); index++) {
        const part = await get(index);
        if (part === null) throw corrupt(where, `its part ${index + 1} of ${count} (account ${account}#${index}) is missing`);
        if (!part.startsWith(`${generation};`)) {
          mixed = true;
          break;
        }
        parts.push(part.slice(generation.length + 1));
      }
      if (!mixed) return parts.join('');
      // Parts of two saves: another process was saving while this one read.
      if (attempt === MIXED_READ_TRIES) throw corrupt(where, 'its parts come from different saves');
      await new Promise((resolveWait) => setTimeout(resolveWait, 50 * attempt));
    }
  };

  const save = async (value: string): Promise<void> => {
    if (typeof value !== 'string') throw new TypeError('A token store keeps a string');
    const before = await partCount().catch(() => 1);
    // A value that begins like a header is split too, so that it is never read as one.
    if (value.length <= chunkSize && !value.startsWith(CHUNK_HEADER)) {
      await set(0, value, [value]);
      await removeParts(1, before);
      return;
    }
    const pieces = split(value, chunkSize);
    const generation = randomBytes(4).toString('hex');
    // The other parts first, the first one last: a reader meanwhile finds the old first part and parts of the new
    // value, tells them apart by the generation, and reads again.
    for (let index = 1; index < pieces.length; index++) await set(index, `${generation};${pieces[index]}`, [value]);
    await set(0, `${CHUNK_HEADER}${pieces.length}:${generation};${pieces[0]}`, [value]);
    await removeParts(pieces.length, before);
  };

  const clear = async (): Promise<void> => {
    const before = await partCount().catch(() => 1);
    // The first part first: a reader meanwhile finds nothing rather than a value with parts missing.
    await remove(0);
    await removeParts(1, before);
  };

  return {
    load: () => queued(operationQueues, key, load),
    save: (value) => queued(operationQueues, key, () => save(value)),
    clear: () => queued(operationQueues, key, clear),
    lock: (work) =>
      options.lockFile === undefined
        ? queued(lockQueues, key, work)
        : withFileLock(options.lockFile, work, { lockTimeout: options.lockTimeout, staleLockAfter: options.staleLockAfter }),
  };
}

/** Loads `@napi-rs/keyring` once. */
function loadKeyring(): Promise<KeyringModule> {
  keyringModule ??= import('@napi-rs/keyring').then(
    (module) => (module as unknown as { default?: KeyringModule }).default ?? (module as unknown as KeyringModule),
    () => {
      // Not cached: a package installed meanwhile is found on the next try.
      keyringModule = undefined;
      throw new MissingPackageError('@napi-rs/keyring', 'the keychain token store');
    },
  );
  return keyringModule;
}

/** `value` in pieces of at most `size` code units, never cutting a surrogate pair (the keychain would mangle each half). */
function split(value: string, size: number): string[] {
  const pieces: string[] = [];
  let start = 0;
  while (start < value.length) {
    let end = Math.min(start + size, value.length);
    const last = value.charCodeAt(end - 1);
    if (end < value.length && end - start > 1 && last >= 0xd800 && last <= 0xdbff) end--;
    pieces.push(value.slice(start, end));
    start = end;
  }
  return pieces;
}

/** Runs `work` after the previous caller of the same `key` in `queues` is done, whatever its outcome. */
function queued<T>(queues: Map<string, Promise<void>>, key: string, work: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const run = previous.then(work);
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return run;
}

/**
 * What the keychain's error means, in our words, for the platform messages keyring-rs gives (its `code` is always
 * `GenericFailure`, so the text is all there is to go by).
 */
const CAUSES: [RegExp, string][] = [
  [/DBUS_SESSION_BUS_ADDRESS|autolaunch|Failed to connect to socket|Could not connect/i, 'there is no D-Bus session bus to reach a keychain service on (DBUS_SESSION_BUS_ADDRESS is not set, or its bus is gone)'],
  [/org\.freedesktop\.secrets|ServiceUnknown|not provided by any \.service files/i, 'no keychain service is running (nothing provides the Secret Service on the D-Bus session bus: start gnome-keyring-daemon, KWallet or KeePassXC)'],
  [/prompt was dismissed|is locked|\blocked\b/i, 'the keychain is locked and was not unlocked'],
  [/no result found/i, 'the keychain has no default collection to keep it in (a Secret Service without a default keyring: create or unlock one)'],
  [/Ambiguous|matched by \d+ credentials/i, 'several keychain entries match it: remove the extra ones'],
  [/longer than platform limit|TooLong/i, "the value is longer than this keychain keeps in one entry: set the store's chunkSize"],
  [/AccessDenied|Access denied|permission denied|not permitted/i, 'the keychain denied access'],
  [/Couldn't access platform storage|NoStorageAccess/i, 'the keychain cannot be reached'],
];

function keychainError(action: string, error: unknown, secrets: readonly string[]): DeviceFlowError {
  const forms = secretForms(secrets);
  const chain: string[] = [];
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) chain.push(cause.message);
  const text = chain.join(' ');
  const meaning = CAUSES.find(([pattern]) => pattern.test(text))?.[1] ?? 'the keychain failed';
  const detail = printable(redactForms(chain.at(-1) ?? String(error), forms)).slice(0, 300);
  return new DeviceFlowError('ClientError', `Could not ${action}: ${meaning}: ${detail}`, {}, { cause: sanitizeCause(error, forms) });
}

function corrupt(where: string, why: string): DeviceFlowError {
  return new DeviceFlowError('ClientError', `The keychain entry ${where} is corrupt: ${why}; clear the store and sign in again`);
}
