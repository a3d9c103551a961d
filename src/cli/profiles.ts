/**
 * Where `device-flow` keeps its sessions between commands: one profile per name, in the OS keychain or in a file only
 * its owner can read, under `$XDG_CONFIG_HOME/device-flow/profiles/` (`~/.config` by default).
 *
 * - A file profile is `NAME.json`: a versioned record `{ format, version, snapshot, clientSecret?, login? }`, mode 0600,
 *   in a directory of mode 0700.
 * - A keychain profile is the same record in the keychain (service `device-flow`, account `NAME`), with a marker
 *   `NAME.keychain` beside the files that says, without a secret, what the profile is (issuer, client, whether it is
 *   signed in), so that `device-flow profiles` lists it without unlocking the keychain.
 * - `NAME.lock` is held while a command refreshes or deletes the profile, so that two processes never spend one
 *   refresh token twice.
 *
 * @module
 */

import { lstat, readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { isDeviceFlowError, MissingPackageError } from '../core/errors.js';
import type { FlowProperties } from '../core/properties.js';
import { printable } from '../core/printable.js';
import type { TokenStore } from '../flow/tokenStore.js';
import { readFlowSnapshot } from '../machines/snapshot.js';
import { withFileLock } from '../node/fileLock.js';
import { createFileTokenStore, type LockingTokenStore } from '../node/fileTokenStore.js';
import { createKeyringTokenStore } from '../node/keyringTokenStore.js';

/** Where a profile is kept. */
export type StoreKind = 'keychain' | 'file';

/** What `login --store` (or `DEVICE_FLOW_STORE`) asks for; `auto`: the keychain when one answers, else a file. */
export type StoreChoice = StoreKind | 'none' | 'auto';

/** The values `--store` and `DEVICE_FLOW_STORE` take. */
export const STORE_CHOICES = ['keychain', 'file', 'none'] as const;

/** The profile a command uses without `--profile`. */
export const DEFAULT_PROFILE = 'default';

/** The keychain service of every keychain profile; the account is the profile's name. */
export const KEYCHAIN_SERVICE = 'device-flow';

const RECORD_FORMAT = 'device-flow-profile';
const MARKER_FORMAT = 'device-flow-profile-marker';
const RECORD_VERSION = 1;
const MAX_NAME_LENGTH = 64;
const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** Why `name` cannot name a profile, or `null` when it can: it becomes part of file names and a keychain account. */
export function profileNameProblem(name: string): string | null {
  if (name.length > MAX_NAME_LENGTH || !NAME_PATTERN.test(name)) {
    return `--profile takes a name of letters, digits, ".", "_" and "-", at most ${MAX_NAME_LENGTH} long and not starting with "." or "-", not ${JSON.stringify(name)}`;
  }
  return null;
}

/** `$XDG_CONFIG_HOME/device-flow`, or `~/.config/device-flow` (a relative `XDG_CONFIG_HOME` is ignored, as the spec says). */
export function configDirectory(env: Record<string, string | undefined>): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg !== undefined && xdg !== '' && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.config');
  return join(base, 'device-flow');
}

/** The directory of the profiles. */
export function profilesDirectory(env: Record<string, string | undefined>): string {
  return join(configDirectory(env), 'profiles');
}

/** What a profile keeps: the flow's snapshot and what a later process needs that the snapshot deliberately lacks. */
export interface ProfileRecord {
  format: typeof RECORD_FORMAT;
  version: typeof RECORD_VERSION;
  /** The flow's snapshot (`OAuth2DeviceAuthorizationFlow.snapshot()`), parsed. */
  snapshot: Record<string, unknown>;
  /** A confidential client's secret: a refresh needs it. */
  clientSecret?: string;
  /** The login's arguments without secrets, to name the command that signs in again. */
  login?: string[];
}

/**
 * A profile cannot be used: `unreadable` (missing parts, corrupt, of another release: a new login replaces it; exit
 * 9), or `store` (the keychain or the directory cannot be reached or written: exit 2).
 */
export class ProfileError extends Error {
  override readonly name = 'ProfileError';
  constructor(
    readonly kind: 'unreadable' | 'store',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** What a profile's session is, read from its snapshot (or, for a keychain profile, its marker): nothing secret. */
export interface SessionFacts {
  issuer: string | null;
  tokenUrl: string | null;
  clientId: string;
  hasAccessToken: boolean;
  /** Epoch ms; `null` when the server did not say (or there is no token). */
  accessTokenExpiresAt: number | null;
  hasRefreshToken: boolean;
}

/** Whether `facts` describe a session that can still give an access token. */
export function isSignedIn(facts: SessionFacts, now: number = Date.now()): boolean {
  return facts.hasRefreshToken || (facts.hasAccessToken && (facts.accessTokenExpiresAt === null || facts.accessTokenExpiresAt > now));
}

/** The properties of the flow a record's snapshot holds, checked as the flow would check them. */
export function propertiesOf(record: ProfileRecord): FlowProperties {
  return (readFlowSnapshot(record.snapshot) as { context: { properties: FlowProperties } }).context.properties;
}

/** The facts of `properties`. */
export function factsOf(properties: FlowProperties): SessionFacts {
  return {
    issuer: properties.issuer,
    tokenUrl: properties.tokenUrl,
    clientId: properties.clientIdentifier,
    hasAccessToken: properties.token !== '',
    accessTokenExpiresAt: properties.token === '' ? null : properties.expirationAt,
    hasRefreshToken: properties.refreshToken !== '',
  };
}

/** A profile: its name, where it is kept, and how to read, write, lock and delete it. */
export class Profile {
  readonly name: string;
  readonly kind: StoreKind;
  readonly directory: string;
  readonly #store: LockingTokenStore;

  constructor(name: string, kind: StoreKind, env: Record<string, string | undefined>) {
    this.name = name;
    this.kind = kind;
    this.directory = profilesDirectory(env);
    this.#store =
      kind === 'file'
        ? createFileTokenStore(this.file)
        : createKeyringTokenStore({ service: KEYCHAIN_SERVICE, account: name, lockFile: this.lockFile });
  }

  /** The record's file (`NAME.json`), or the keychain profile's marker (`NAME.keychain`). */
  get file(): string {
    return join(this.directory, `${this.name}.${this.kind === 'file' ? 'json' : 'keychain'}`);
  }

  /** The lock file held while the profile is refreshed or deleted. */
  get lockFile(): string {
    return join(this.directory, `${this.name}.lock`);
  }

  /** Where the profile is, in words. */
  get location(): string {
    return this.kind === 'file' ? this.file : `the keychain (service ${KEYCHAIN_SERVICE}, account ${this.name})`;
  }

  /** The `--profile` argument that names it, empty for the default profile. */
  get flag(): string {
    return this.name === DEFAULT_PROFILE ? '' : ` --profile ${this.name}`;
  }

  /** The record, or `null` when there is none. @throws {ProfileError} when it cannot be read or is not one. */
  async read(): Promise<ProfileRecord | null> {
    const text = await this.readText();
    return text === null ? null : this.parse(text);
  }

  /** The record's text as kept, or `null`. @throws {ProfileError} `store` when the store cannot be read. */
  async readText(): Promise<string | null> {
    try {
      return await this.#store.load();
    } catch (error) {
      throw this.#storeError('read', error);
    }
  }

  /** `text` as a record. @throws {ProfileError} `unreadable` when it is not one this release reads. */
  parse(text: string): ProfileRecord {
    let value: Partial<ProfileRecord> | null;
    try {
      value = JSON.parse(text) as Partial<ProfileRecord> | null;
    } catch {
      throw this.#unreadable('it is not JSON');
    }
    if (typeof value !== 'object' || value === null || value.format !== RECORD_FORMAT) throw this.#unreadable(`it is not a ${RECORD_FORMAT} record`);
    if (value.version !== RECORD_VERSION) throw this.#unreadable(`it has version ${JSON.stringify(value.version)}, and this release reads version ${RECORD_VERSION}`);
    if (typeof value.snapshot !== 'object' || value.snapshot === null) throw this.#unreadable('it holds no snapshot');
    if (value.clientSecret !== undefined && typeof value.clientSecret !== 'string') throw this.#unreadable('its clientSecret is not a string');
    if (value.login !== undefined && !(Array.isArray(value.login) && value.login.every((arg) => typeof arg === 'string'))) throw this.#unreadable('its login is not a list of arguments');
    const record = value as ProfileRecord;
    try {
      propertiesOf(record);
    } catch (error) {
      // The library's advice (grant()) in the terms of the command line, which the caller adds.
      throw this.#unreadable(`its session cannot be resumed: ${isDeviceFlowError(error) ? error.message.replace(/[;:] start a new flow with grant\(\)$|: pass what flow\.snapshot\(\) returned$/, '') : String(error)}`);
    }
    return record;
  }

  /** Keeps `record`, replacing what the profile held; a keychain profile's marker follows. */
  async write(record: ProfileRecord): Promise<void> {
    await this.writeText(`${JSON.stringify(record, null, 2)}\n`, record);
  }

  /** Keeps `text` (a record's text, as {@link readText} gave it) as it is. */
  async writeText(text: string, record: ProfileRecord = this.parse(text)): Promise<void> {
    try {
      await this.#store.save(text);
      if (this.kind === 'keychain') await createFileTokenStore(this.file).save(`${JSON.stringify(markerOf(record))}\n`);
    } catch (error) {
      throw this.#storeError('save', error);
    }
  }

  /** Puts back `text`, a record's text as {@link readText} gave it, whether it reads or not. */
  async restoreText(text: string): Promise<void> {
    let record: ProfileRecord | null = null;
    try {
      record = this.parse(text);
    } catch {
      // Unreadable before: it is put back as it was, and a keychain profile keeps the marker it has.
    }
    try {
      await this.#store.save(text);
      if (this.kind === 'keychain' && record !== null) await createFileTokenStore(this.file).save(`${JSON.stringify(markerOf(record))}\n`);
    } catch (error) {
      throw this.#storeError('save', error);
    }
  }

  /** Deletes the profile: the record, and a keychain profile's marker. Nothing to delete is no error. */
  async remove(): Promise<void> {
    try {
      await this.#store.clear();
      if (this.kind === 'keychain') await createFileTokenStore(this.file).clear();
    } catch (error) {
      throw this.#storeError('delete', error);
    }
  }

  /**
   * Runs `work` holding the profile's lock file. Not obtaining it is a {@link ProfileError} `store`; what `work`
   * throws is rethrown as it is.
   */
  async lock<T>(work: () => Promise<T>): Promise<T> {
    let holding = false;
    try {
      return await withFileLock(this.lockFile, () => {
        holding = true;
        return work();
      });
    } catch (error) {
      if (holding) throw error;
      throw this.#storeError('lock', error);
    }
  }

  /**
   * The profile as a flow's token store: it loads the snapshot out of the record and saves the snapshot into one, with
   * `extras` (the client secret, the login's arguments) beside it, under the profile's lock.
   *
   * @param fresh the first load finds nothing: a login starts a new sign-in whatever the profile held.
   */
  tokenStore(extras: Pick<ProfileRecord, 'clientSecret' | 'login'>, { fresh = false } = {}): TokenStore {
    let skip = fresh;
    return {
      load: async () => {
        if (skip) {
          skip = false;
          return null;
        }
        const record = await this.read();
        return record === null ? null : JSON.stringify(record.snapshot);
      },
      save: async (snapshot) => {
        const record: ProfileRecord = {
          format: RECORD_FORMAT,
          version: RECORD_VERSION,
          snapshot: JSON.parse(snapshot) as Record<string, unknown>,
          ...(extras.clientSecret ? { clientSecret: extras.clientSecret } : {}),
          ...(extras.login === undefined ? {} : { login: extras.login }),
        };
        await this.write(record);
      },
      clear: () => this.remove(),
      lock: (work) => this.lock(work),
    };
  }

  /** The facts of a keychain profile's marker, without the keychain; `null` without a usable marker. */
  async markerFacts(): Promise<(SessionFacts & { login?: string[] }) | null> {
    if (this.kind !== 'keychain') return null;
    try {
      const marker = JSON.parse(await readFile(this.file, 'utf8')) as Partial<Marker>;
      if (marker.format !== MARKER_FORMAT || typeof marker.clientId !== 'string') return null;
      return marker as Marker;
    } catch {
      return null;
    }
  }

  #unreadable(why: string): ProfileError {
    return new ProfileError('unreadable', `profile ${this.name} in ${this.location} cannot be read: ${printable(why)}`);
  }

  #storeError(action: 'read' | 'save' | 'delete' | 'lock', error: unknown): unknown {
    if (error instanceof MissingPackageError || error instanceof ProfileError) return error;
    const detail = printable(error instanceof Error ? error.message : String(error));
    const what = { read: 'could not be read', save: 'could not be saved', delete: 'could not be deleted', lock: 'could not be locked' }[action];
    return new ProfileError('store', `profile ${this.name} ${what}: ${detail}`, { cause: error });
  }
}

/** What a keychain profile's marker file holds: nothing secret. */
interface Marker extends SessionFacts {
  format: typeof MARKER_FORMAT;
  version: typeof RECORD_VERSION;
  store: 'keychain';
  service: string;
  login?: string[];
}

function markerOf(record: ProfileRecord): Marker {
  return {
    format: MARKER_FORMAT,
    version: RECORD_VERSION,
    store: 'keychain',
    service: KEYCHAIN_SERVICE,
    ...factsOf(propertiesOf(record)),
    ...(record.login === undefined ? {} : { login: record.login }),
  };
}

/** Whether a file (not a link, not a directory) is at `path`. */
async function isFile(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => null))?.isFile() ?? false;
}

/**
 * The profile `name` as it exists: a file profile, or a keychain profile (its marker); `null` when there is none. A
 * record file that is not a regular file (a link, a directory) counts as there, for its store to refuse by name.
 */
export async function findProfile(name: string, env: Record<string, string | undefined>): Promise<Profile | null> {
  const file = new Profile(name, 'file', env);
  if ((await lstat(file.file).catch(() => null)) !== null) return file;
  const keychain = new Profile(name, 'keychain', env);
  if (await isFile(keychain.file)) return keychain;
  return null;
}

/** Every profile there is, by name: file profiles and keychain profiles' markers. */
export async function allProfiles(env: Record<string, string | undefined>): Promise<Profile[]> {
  const names = await readdir(profilesDirectory(env)).catch(() => [] as string[]);
  const profiles: Profile[] = [];
  for (const entry of names.sort()) {
    const match = /^(.+)\.(json|keychain)$/.exec(entry);
    if (match === null || profileNameProblem(match[1]!) !== null) continue;
    // A name kept in both (which login avoids) is listed once, as findProfile() reads it.
    if (profiles.some((profile) => profile.name === match[1])) continue;
    const profile = await findProfile(match[1]!, env);
    if (profile !== null) profiles.push(profile);
  }
  return profiles;
}

/**
 * The store a login saves profile `name` in: `choice`, or with `auto` the keychain when one answers (the optional
 * `@napi-rs/keyring` is installed and a keychain service reads its entry), else a file.
 *
 * @throws {ProfileError} `store` when the keychain was asked for and does not answer; {@link MissingPackageError}
 *   when it was asked for and `@napi-rs/keyring` is not installed.
 */
export async function profileForLogin(name: string, choice: StoreKind | 'auto', env: Record<string, string | undefined>): Promise<Profile> {
  if (choice === 'file') return new Profile(name, 'file', env);
  const keychain = new Profile(name, 'keychain', env);
  try {
    await keychain.readText();
    return keychain;
  } catch (error) {
    if (choice === 'keychain') throw error;
    return new Profile(name, 'file', env);
  }
}

/** The arguments as one shell command line: quoted where the shell would split or expand them. */
export function shellLine(args: readonly string[]): string {
  return args.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`)).join(' ');
}
