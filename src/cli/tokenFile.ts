/**
 * Writes the granted tokens to a file only its owner can read.
 *
 * @module
 */

import { lstat, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { SavedDpopKey } from '../core/protocol/dpop.js';
import type { DeviceTokens } from '../promise/authorizeDevice.js';

/**
 * Writes `tokens` as JSON to `path` with mode 0600: first to a new file beside it, then renamed over `path`, so that
 * the tokens are never readable by others, not even for a moment, and an existing file is replaced whole.
 */
export async function writeTokenFile(path: string, tokens: DeviceTokens, dpopKey?: SavedDpopKey): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, `${JSON.stringify(tokensAsJson(tokens, dpopKey), null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Why `path` cannot take the token file, or `null` when it can: found out before the login starts, since a device code
 * is spent once the user approves. `path` must name a file (not a directory, nor end with a slash), its directory
 * must exist, and a file must be creatable there: a probe file is written and removed, which finds what permission
 * bits do not tell (a read-only file system, access control lists, running as root).
 */
export async function tokenFileProblem(path: string): Promise<string | null> {
  if (path === '' || path.endsWith('/') || path.endsWith(sep) || ['.', '..'].includes(basename(path))) return `${path} is a directory path: name a file`;
  const directory = dirname(resolve(path));
  const target = await lstat(path).catch(() => null);
  if (target?.isDirectory()) return `${path} is a directory: name a file in it`;
  if (target !== null && !target.isFile() && !target.isSymbolicLink()) return `${path} exists and is not a regular file`;
  const folder = await stat(directory).catch(() => null);
  if (folder === null) return `${path}: the directory ${directory} does not exist`;
  if (!folder.isDirectory()) return `${path}: ${directory} is not a directory`;
  const probe = join(directory, `.device-flow-probe-${process.pid}-${Date.now()}`);
  try {
    await writeFile(probe, '', { mode: 0o600, flag: 'wx' });
    await rm(probe, { force: true });
    return null;
  } catch (error) {
    return `${path}: no file can be written in ${directory} (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

/**
 * The tokens as the JSON the CLI prints with `--json` and writes with `--output` (docs/schemas/device-flow-output.schema.json),
 * with the DPoP key they are bound to, when there is one: they cannot be used without it.
 */
export function tokensAsJson(tokens: DeviceTokens, dpopKey?: SavedDpopKey): Record<string, unknown> {
  return {
    accessToken: tokens.accessToken,
    tokenType: tokens.tokenType,
    refreshToken: tokens.refreshToken || null,
    idToken: tokens.idToken || null,
    idTokenClaims: tokens.idTokenClaims,
    expiresAt: tokens.expiresAt?.toISOString() ?? null,
    scope: tokens.scope,
    extraTokens: tokens.extraTokens,
    ...(dpopKey === undefined ? {} : { dpopKey }),
  };
}
