/**
 * Writes the granted tokens to a file only its owner can read.
 *
 * @module
 */

import { constants } from 'node:fs';
import { access, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { DeviceTokens } from '../authorizeDevice.js';

/**
 * Writes `tokens` as JSON to `path` with mode 0600: first to a new file beside it, then renamed over `path`, so that
 * the tokens are never readable by others, not even for a moment, and an existing file is replaced whole.
 */
export async function writeTokenFile(path: string, tokens: DeviceTokens): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, `${JSON.stringify(tokensAsJson(tokens), null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Why `path` cannot take the token file, or `null` when it can: its directory must exist and be writable, and `path`
 * must not be a directory.
 */
export async function tokenFileProblem(path: string): Promise<string | null> {
  const directory = dirname(resolve(path));
  const target = await stat(path).catch(() => null);
  if (target?.isDirectory()) return `${path} is a directory: name a file in it`;
  const folder = await stat(directory).catch(() => null);
  if (folder === null) return `${path}: the directory ${directory} does not exist`;
  if (!folder.isDirectory()) return `${path}: ${directory} is not a directory`;
  const writable = await access(directory, constants.W_OK).then(() => true, () => false);
  return writable ? null : `${path}: the directory ${directory} is not writable`;
}

/** The tokens as the JSON the CLI prints with `--json` and writes with `--output`. */
export function tokensAsJson(tokens: DeviceTokens): Record<string, unknown> {
  return {
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken || null,
    idToken: tokens.idToken || null,
    expiresAt: tokens.expiresAt?.toISOString() ?? null,
    scope: tokens.scope,
    extraTokens: tokens.extraTokens,
  };
}
