/**
 * What `device-flow login` does with its profile: chooses the store before the sign-in begins (a device code is spent
 * once the user approves, so a store that cannot keep the session is found out first), saves the flow as it goes,
 * and once the sign-in is over keeps the new session, or puts back what the profile held before.
 *
 * @module
 */

import { constants } from 'node:fs';
import { access, lstat, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MissingPackageError } from '../core/errors.js';
import { printable } from '../core/printable.js';
import type { DeviceFlowOptions } from '../flow/oauth2DeviceAuthorizationFlow.js';
import type { TokenStore } from '../flow/tokenStore.js';
import type { Command } from './args.js';
import { EXIT_CODES } from './exitCodes.js';
import type { CliIO } from './login.js';
import { findProfile, type Profile, ProfileError, type ProfileRecord, profileForLogin, propertiesOf } from './profiles.js';

type LoginCommand = Extract<Command, { kind: 'login' }>;

/** The profile a login saves into. */
export interface LoginProfile {
  /** The flow's token store: it starts from nothing, and saves the sign-in as it goes. */
  tokenStore(options: DeviceFlowOptions): TokenStore;
  /** `options`, with the client secret the profile keeps when the login gave none for the same client. */
  withKeptSecret(options: DeviceFlowOptions, io: CliIO): DeviceFlowOptions;
  /**
   * Makes sure the granted session is kept (the flow saved it as it ended; a save that failed is tried once more) and
   * says where; returns why it could not be kept, or `null`.
   */
  commit(io: CliIO): Promise<string | null>;
  /** After a sign-in that did not end in tokens: what the profile held before, back in place (or nothing). */
  rollback(io: CliIO): Promise<void>;
}

/**
 * The profile `command` saves into (`null` with `--store none`), or the exit code when it cannot: 2 when the keychain
 * asked for does not answer or the profile's directory cannot be written.
 *
 * @throws {MissingPackageError} when `--store keychain` is asked for and `@napi-rs/keyring` is not installed.
 */
export async function prepareLoginProfile(command: LoginCommand, io: CliIO, env: Record<string, string | undefined>): Promise<LoginProfile | null | number> {
  if (command.store === 'none') return null;
  let profile: Profile;
  try {
    profile = await profileForLogin(command.profile, command.store, env);
  } catch (error) {
    if (!(error instanceof ProfileError)) throw error;
    io.stderr.write(`device-flow: --store keychain: the keychain cannot keep profile ${command.profile} (${error.message.replace(/^profile \S+ could not be read: /, '')}); use --store file\n`);
    return EXIT_CODES.usage;
  }
  const problem = await directoryProblem(profile.file);
  if (problem !== null) {
    io.stderr.write(`device-flow: profile ${profile.name} cannot be saved: ${problem}\n`);
    return EXIT_CODES.usage;
  }
  let previous: string | null;
  try {
    previous = await profile.readText();
  } catch (error) {
    if (!(error instanceof ProfileError)) throw error;
    io.stderr.write(`device-flow: ${error.message}\n`);
    return EXIT_CODES.usage;
  }
  let previousRecord: ProfileRecord | null = null;
  try {
    previousRecord = previous === null ? null : profile.parse(previous);
  } catch {
    // Unreadable: this login replaces it.
  }
  // A signed-in profile keeps its session until the new one is granted: a login that is declined, expires or is
  // abandoned costs nothing, and `token` goes on working meanwhile. A profile without a session shows the pending
  // sign-in instead (`status`).
  const keepsSession = previousRecord !== null && hasTokens(previousRecord.snapshot);
  const elsewhere = await findProfile(profile.name, env);
  const other = elsewhere !== null && elsewhere.kind !== profile.kind ? elsewhere : null;
  let touched = false;
  // The flow's last snapshot, and whether saving it failed: a flow's snapshot() after it is disposed (as
  // authorizeDevice() leaves it) cannot be resumed, so what it saved last is what the profile keeps.
  let store: TokenStore | null = null;
  let last: { snapshot: string; failed: boolean } | null = null;

  return {
    tokenStore(options) {
      const inner = profile.tokenStore({ clientSecret: options.clientIdentifierSharedKey, login: command.loginArgs }, { fresh: true });
      store = inner;
      return {
        ...inner,
        save: async (value) => {
          if (keepsSession && !hasTokens(JSON.parse(value) as Record<string, unknown>)) return;
          touched = true;
          last = { snapshot: value, failed: true };
          await inner.save(value);
          last.failed = false;
        },
      };
    },

    withKeptSecret(options, io) {
      const kept = previousRecord?.clientSecret;
      if (options.clientIdentifierSharedKey || !kept || previousRecord === null) return options;
      const properties = propertiesOf(previousRecord);
      const sameClient = properties.clientIdentifier === options.clientIdentifier && properties.tokenUrl !== null && properties.tokenUrl === hrefOf(options.tokenUrl);
      if (!sameClient) return options;
      io.stderr.write(`Using the client secret kept in profile ${profile.name}.\n`);
      return { ...options, clientIdentifierSharedKey: kept };
    },

    async commit(io) {
      const saved = last as { snapshot: string; failed: boolean } | null;
      try {
        if (saved === null || store === null) throw new Error(`profile ${profile.name} was never saved`);
        if (saved.failed) await store.save(saved.snapshot);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        io.stderr.write(`device-flow: the sign-in succeeded, but ${printable(reason)}\n`);
        return reason;
      }
      if (other !== null) {
        // One profile of a name: the copy in the other store goes.
        await other.remove().catch((error: unknown) => {
          io.stderr.write(`device-flow: the previous profile ${other.name} in ${other.location} could not be deleted: ${printable(error instanceof Error ? error.message : String(error))}\n`);
        });
      }
      const where = profile.kind === 'file' ? `${profile.file} (readable by you only)` : profile.location;
      io.stderr.write(`Saved as profile ${profile.name} in ${where}; device-flow token${profile.flag} prints its access token.\n`);
      return null;
    },

    async rollback(io) {
      if (!touched) return;
      try {
        if (previous === null) await profile.remove();
        else await profile.restoreText(previous);
      } catch (error) {
        if (error instanceof MissingPackageError) return;
        io.stderr.write(`device-flow: profile ${profile.name} could not be put back as it was: ${printable(error instanceof Error ? error.message : String(error))}\n`);
      }
    },
  };
}

/** Whether a snapshot holds tokens; one that is not a snapshot holds none. */
function hasTokens(snapshot: Record<string, unknown>): boolean {
  const properties = (snapshot['state'] as { context?: { properties?: { token?: unknown; refreshToken?: unknown } } } | undefined)?.context?.properties;
  return Boolean(properties?.token) || Boolean(properties?.refreshToken);
}

function hrefOf(url: string | URL | null | undefined): string | null {
  if (url === null || url === undefined) return null;
  try {
    return new URL(url).href;
  } catch {
    return null;
  }
}

/**
 * Why `file` cannot be created or replaced, found without writing anything: its directory (or the nearest existing
 * one above, where it would be created) must be a directory this process can write, and `file`, if there, a regular
 * file.
 */
async function directoryProblem(file: string): Promise<string | null> {
  const target = await lstat(file).catch(() => null);
  if (target !== null && target.isSymbolicLink()) return `${file} is a symbolic link: remove it, or choose another --profile`;
  if (target !== null && !target.isFile()) return `${file} is not a regular file: remove it, or choose another --profile`;
  for (let directory = dirname(file); ; directory = dirname(directory)) {
    // Followed: a configuration directory that is a link to another (dotfiles) is common.
    const stats = await stat(directory).catch(() => null);
    if (stats !== null) {
      if (!stats.isDirectory()) return `${directory} is not a directory`;
      const writable = await access(directory, constants.W_OK | constants.X_OK).then(
        () => true,
        () => false,
      );
      return writable ? null : `the directory ${directory} is not writable`;
    }
    if (dirname(directory) === directory) return `no directory of ${file} exists`;
  }
}
