/**
 * Writes the granted tokens to a file only its owner can read.
 *
 * @module
 */

import { rename, rm, writeFile } from 'node:fs/promises';
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
