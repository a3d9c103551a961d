/**
 * What a persisted state may hold. A snapshot comes back from storage that someone else may have written to: every
 * value it restores is checked as strictly as the same value from the application or the server would be, so that a
 * tampered or corrupted snapshot (`pollInterval: 0`, a timestamp in the year 30000) is refused instead of resumed.
 *
 * @module
 */

import { PROPERTY_NAMES, storedPropertyProblem } from '../core/properties.js';
import { MIN_POLL_INTERVAL_SECONDS } from '../core/protocol/pollInterval.js';
import { MAX_SERVER_DURATION_SECONDS } from '../core/protocol/members.js';
import { MAX_TOKEN_LIFETIME_SECONDS } from '../core/protocol/tokenResponse.js';
import type { DeviceFlowContext } from './types.js';

/** What is wrong with a value, in words that follow its name; `null` when nothing is. */
type Check = (value: unknown, savedAt: number) => string | null;

const DAY_MS = MAX_SERVER_DURATION_SECONDS * 1000;
// A minute beyond a day covers the back-off and a request in flight at the moment of saving.
const CODE_HORIZON_MS = DAY_MS + 60_000;
const TOKEN_HORIZON_MS = MAX_TOKEN_LIFETIME_SECONDS * 1000 + DAY_MS;

const string: Check = (value) => (typeof value === 'string' ? null : 'must be a string');
const nullOr =
  (check: Check): Check =>
  (value, savedAt) =>
    value === null ? null : check(value, savedAt);

/** An epoch-ms time no later than `horizon` after the snapshot was saved. */
const time =
  (horizon: number): Check =>
  (value, savedAt) =>
    typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= savedAt + horizon
      ? null
      : `must be a time no later than ${horizon / 3_600_000} hours after the snapshot was saved`;

const number =
  (min: number, max: number, unit: string): Check =>
  (value) =>
    typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max ? null : `must be a number of ${unit} from ${min} to ${max}`;

const count: Check = (value) => (Number.isSafeInteger(value) && (value as number) >= 0 ? null : 'must be a whole number, 0 or more');

const ERROR_CODES = ['NetworkError', 'ServerError', 'OAuthTokenNotFoundError', 'ClientError', 'ExpiredError'];

/** A `DeviceFlowErrorData`: a known code, a message, and the server's fields with their types. */
const errorData: Check = (value) => {
  if (typeof value !== 'object' || value === null) return 'must be an error as data';
  const { code, message, error, errorDescription, errorUri, status, retryAfter, ...rest } = value as Record<string, unknown>;
  const fits =
    ERROR_CODES.includes(code as string) &&
    typeof message === 'string' &&
    [error, errorDescription, errorUri].every((member) => member === undefined || typeof member === 'string') &&
    (status === undefined || (Number.isInteger(status) && (status as number) >= 100 && (status as number) <= 599)) &&
    (retryAfter === undefined || (typeof retryAfter === 'number' && retryAfter >= 0 && retryAfter <= MAX_SERVER_DURATION_SECONDS)) &&
    Object.keys(rest).length === 0;
  return fits ? null : 'must be an error as data';
};

/** A `TokenResponse` held for validation: the members the parser produces, with their types. */
const tokenResponse: Check = (value) => {
  if (!isRecord(value)) return 'must be a token response';
  const { accessToken, tokenType, refreshToken, idToken, expiresIn, grantedScopeTokens, extraTokens, ...rest } = value;
  const fits =
    typeof accessToken === 'string' &&
    accessToken !== '' &&
    storedPropertyProblem('tokenType', tokenType, 0) === null &&
    (refreshToken === null || typeof refreshToken === 'string') &&
    typeof idToken === 'string' &&
    (expiresIn === null || number(Number.MIN_VALUE, MAX_TOKEN_LIFETIME_SECONDS, 'seconds')(expiresIn, 0) === null) &&
    storedPropertyProblem('grantedScopeTokens', grantedScopeTokens, 0) === null &&
    storedPropertyProblem('extraTokens', extraTokens, 0) === null &&
    Object.keys(rest).length === 0;
  return fits ? null : 'must be a token response';
};

const BOOKKEEPING_CHECKS: { [K in Exclude<keyof DeviceFlowContext, 'properties'>]: Check } = {
  deviceCode: string,
  // The same floor as an interval from the server: a lower one would poll in a tight loop.
  pollInterval: number(MIN_POLL_INTERVAL_SECONDS, 2 * MAX_SERVER_DURATION_SECONDS, 'seconds'),
  tokenLifetime: nullOr(number(Number.MIN_VALUE, MAX_TOKEN_LIFETIME_SECONDS, 'seconds')),
  refreshAt: nullOr(time(TOKEN_HORIZON_MS)),
  refreshCheckpoint: nullOr(time(TOKEN_HORIZON_MS)),
  pollingStartedAt: nullOr(time(CODE_HORIZON_MS)),
  consecutiveFailures: count,
  lastFault: nullOr(errorData),
  lastError: nullOr(errorData),
  receivedTokens: nullOr(tokenResponse),
  nonceRetried: (value) => (typeof value === 'boolean' ? null : 'must be true or false'),
};

/**
 * What is wrong with the statechart context `context` of a snapshot saved at `savedAt` (epoch ms), naming the member
 * and never its value (it may be a token); `null` when every member is there and fits, and no other is.
 */
export function contextProblem(context: unknown, savedAt: number): string | null {
  if (!isRecord(context) || !isRecord(context.properties)) return 'context must be an object with properties';
  const { properties, ...bookkeeping } = context;
  for (const name of PROPERTY_NAMES) {
    if (!(name in properties)) return `context.properties.${name} is missing`;
    const problem = storedPropertyProblem(name, properties[name], savedAt);
    if (problem !== null) return `context.properties.${name} ${problem}`;
  }
  if (Object.keys(properties).length !== PROPERTY_NAMES.length) return 'context.properties has a member this release does not know';
  return membersProblem('context', bookkeeping, BOOKKEEPING_CHECKS, savedAt);
}

function membersProblem(path: string, members: Record<string, unknown>, checks: Record<string, Check>, savedAt: number): string | null {
  for (const [name, check] of Object.entries(checks)) {
    if (!(name in members)) return `${path}.${name} is missing`;
    const problem = check(members[name], savedAt);
    if (problem !== null) return `${path}.${name} ${problem}`;
  }
  const unknown = Object.keys(members).find((name) => !(name in checks));
  return unknown === undefined ? null : `${path} has a member this release does not know`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
