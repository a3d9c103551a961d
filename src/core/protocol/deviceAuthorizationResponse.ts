/**
 * The device authorization response.
 *
 * @module
 */

import { DeviceFlowError } from '../errors.js';
import { extraMembers, readNonEmptyString, readOAuthError, readPositiveSeconds } from './members.js';
import { hasUnsafeCharacters } from '../printable.js';
import type { ResponseMembers } from './responseBody.js';
import { serverReportedError } from './serverError.js';
import { readHttpUrl } from './urls.js';
import { DEFAULT_POLL_INTERVAL_SECONDS, readPollInterval } from './pollInterval.js';

/** The longest user code accepted: a person has to type it. */
export const MAX_USER_CODE_LENGTH = 256;

/** The longest verification URL accepted: it must fit a QR code and a browser's address bar. */
export const MAX_VERIFICATION_URL_LENGTH = 2048;

/**
 * A successful device authorization response, checked and normalised.
 *
 * @see [RFC 8628 §3.2](https://www.rfc-editor.org/rfc/rfc8628#section-3.2)
 */
export interface DeviceAuthorization {
  /** The device verification code. A secret: it is what the token requests present. */
  deviceCode: string;
  /** The code the user types at the verification URL. */
  userCode: string;
  /** Where the user goes (`verification_uri`, or Google's `verification_url`). */
  verificationUrl: string;
  /** The verification URL with the user code in it, for QR codes; `null` when the server sent none. */
  completeVerificationUrl: string | null;
  /** Lifetime of the codes, in seconds. */
  expiresIn: number;
  /** Minimum wait between polls, in seconds. */
  interval: number;
  /** The non-standard members, e.g. Microsoft's `message`. */
  extraTokens: Record<string, unknown>;
}

const STANDARD_MEMBERS = new Set([
  'device_code',
  'user_code',
  'verification_uri',
  'verification_uri_complete',
  'verification_url',
  'verification_url_complete',
  'expires_in',
  'interval',
]);

/**
 * Checks a device authorization response.
 *
 * - `verification_url` and `verification_url_complete` are accepted as aliases of the `_uri` members.
 * - `expires_in` and `interval` may be numbers or numeric strings; a missing or invalid `interval` means 5 seconds.
 * - Durations longer than a day count as a day, and intervals shorter than a second as a second.
 * - Verification URLs must be absolute `http:`/`https:` URLs of at most 2048 characters, and user codes at most 256
 *   characters long; anything else counts as missing.
 *
 * @throws {DeviceFlowError} `ServerError` for an OAuth error response; `OAuthTokenNotFoundError` when `device_code`,
 *   `user_code`, `expires_in` or the verification URL is missing or unusable.
 * @see [RFC 8628 §3.2](https://www.rfc-editor.org/rfc/rfc8628#section-3.2)
 */
export function parseDeviceAuthorizationResponse(members: ResponseMembers, status?: number): DeviceAuthorization {
  const oauthError = readOAuthError(members, status);
  if (oauthError !== null) throw serverReportedError(oauthError, 'deviceAuthorization');

  const deviceCode = readNonEmptyString(members.device_code);
  const userCode = readUserCode(members.user_code);
  const expiresIn = readPositiveSeconds(members.expires_in);
  const verificationUrl = readVerificationUrl(members.verification_uri ?? members.verification_url);
  const missing = [
    deviceCode === null && 'device_code',
    userCode === null && 'user_code',
    expiresIn === null && 'expires_in',
    verificationUrl === null && 'verification_uri',
  ].filter((name): name is string => name !== false);
  if (deviceCode === null || userCode === null || expiresIn === null || verificationUrl === null) {
    throw new DeviceFlowError(
      'OAuthTokenNotFoundError',
      `The device authorization response lacks a usable ${missing.join(', ')}`,
      { status },
    );
  }
  return {
    deviceCode,
    userCode,
    verificationUrl,
    completeVerificationUrl: readVerificationUrl(members.verification_uri_complete ?? members.verification_url_complete),
    expiresIn,
    interval: readPollInterval(members.interval) ?? DEFAULT_POLL_INTERVAL_SECONDS,
    extraTokens: extraMembers(members, STANDARD_MEMBERS),
  };
}


/**
 * A user code a person can read and type: a non-empty string of at most {@link MAX_USER_CODE_LENGTH} characters,
 * without control characters or bidirectional controls (nobody can type them, and they can rewrite what the user
 * sees); otherwise `null`.
 *
 * @see [RFC 8628 §6.1](https://www.rfc-editor.org/rfc/rfc8628#section-6.1)
 */
export function readUserCode(value: unknown): string | null {
  const code = limited(readNonEmptyString(value), MAX_USER_CODE_LENGTH);
  return code !== null && !hasUnsafeCharacters(code) ? code : null;
}

/**
 * A verification URL to show or open: an absolute `http:`/`https:` URL without userinfo, of at most
 * {@link MAX_VERIFICATION_URL_LENGTH} characters, normalised; otherwise `null`.
 *
 * @see [RFC 8628 §3.2](https://www.rfc-editor.org/rfc/rfc8628#section-3.2)
 */
export function readVerificationUrl(value: unknown): string | null {
  return limited(readHttpUrl(value), MAX_VERIFICATION_URL_LENGTH);
}

function limited(value: string | null, maxLength: number): string | null {
  return value !== null && value.length <= maxLength ? value : null;
}
