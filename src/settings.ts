/**
 * Checks and normalises settings given by the application, before they reach the machine.
 *
 * @module
 */

import type { FlowSettings, NonceMode } from '../machines/types.js';
import { DeviceFlowError } from './errors.js';
import type { ClientAuthenticationMethod } from './protocol/requests.js';
import { findInvalidScopeToken, uniqueTokens } from './protocol/scope.js';
import { hasUserinfo } from './protocol/urls.js';

/**
 * Settings as the application may give them: URLs as strings or `URL`s, scope tokens as any iterable. They are
 * checked before they reach the machine: an invalid one throws a `ClientError`, and none is applied.
 *
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 * @see [RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3) for `requestedScopeTokens`
 */
export interface FlowSettingsInput {
  authorizationUrl?: string | URL | null;
  tokenUrl?: string | URL | null;
  clientIdentifier?: string;
  clientAuthentication?: ClientAuthenticationMethod;
  requestedScopeTokens?: Iterable<string>;
  nonceMode?: NonceMode;
  nonce?: string;
  autoRefresh?: boolean;
  refreshLeadTime?: number;
  token?: string;
  refreshToken?: string;
  allowInsecureHttp?: boolean;
  maxConsecutiveFailures?: number | null;
}

type Normalisers = { [K in keyof FlowSettings]-?: (value: unknown, name: K) => FlowSettings[K] };

const NONCE_MODES: readonly NonceMode[] = ['Automatic', 'Enabled', 'Disabled'];
const CLIENT_AUTHENTICATION_METHODS: readonly ClientAuthenticationMethod[] = ['client_secret_post', 'client_secret_basic', 'none'];

const normalisers: Normalisers = {
  authorizationUrl: endpoint,
  tokenUrl: endpoint,
  clientIdentifier: requireString,
  clientAuthentication: (value, name) => oneOf(value, name, CLIENT_AUTHENTICATION_METHODS),
  requestedScopeTokens: scopeTokens,
  nonceMode: (value, name) => oneOf(value, name, NONCE_MODES),
  nonce: requireString,
  autoRefresh: boolean,
  allowInsecureHttp: boolean,
  maxConsecutiveFailures: (value, name) => {
    if (value === null) return null;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw invalid(name, 'must be a whole number, 0 or more, or null for no limit');
    return value;
  },
  refreshLeadTime: (value, name) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw invalid(name, 'must be a number of seconds, 0 or more');
    return value;
  },
  token: requireString,
  refreshToken: requireString,
};

/**
 * The settings in `input`, checked and in the machine's form. Members that are `undefined` are left out.
 *
 * @throws {DeviceFlowError} `ClientError` naming the first invalid setting; nothing is applied then. The message
 *   never quotes a token.
 */
export function normalizeSettings(input: FlowSettingsInput): Partial<FlowSettings> {
  const settings: Partial<Record<keyof FlowSettings, unknown>> = {};
  for (const name of Object.keys(normalisers) as (keyof FlowSettings)[]) {
    const value = input[name];
    if (value !== undefined) settings[name] = (normalisers[name] as (value: unknown, name: string) => unknown)(value, name);
  }
  return settings as Partial<FlowSettings>;
}

/**
 * What is wrong with `value` as the value of setting `name`, in words that follow the name (`"must be a URL"`), or
 * `null` when it would be accepted.
 */
export function settingProblem(name: keyof FlowSettings, value: unknown): string | null {
  try {
    (normalisers[name] as (value: unknown, name: string) => unknown)(value, name);
    return null;
  } catch (error) {
    return (error as Error).message.slice(`${INVALID_SETTING}${name} `.length);
  }
}

function endpoint(value: unknown, name: string): string | null {
  if (value === null || value === '') return null;
  if (!(typeof value === 'string' || value instanceof URL)) throw invalid(name, 'must be a URL');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(name, 'must be an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(name, 'must be an http: or https: URL');
  // Credentials in a URL end up in error messages and logs: the client secret has its own setting.
  if (hasUserinfo(url)) throw invalid(name, 'must not carry a user name or password: set clientIdentifierSharedKey, or add credentials with a request modifier');
  return url.href;
}

function boolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalid(name, 'must be true or false');
  return value;
}

/**
 * `value` if it is a string.
 *
 * @throws {DeviceFlowError} `ClientError` naming the setting otherwise.
 */
export function requireString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalid(name, 'must be a string');
  return value;
}

/**
 * `value` if it is a positive finite number.
 *
 * @throws {DeviceFlowError} `ClientError` naming the setting otherwise.
 */
export function requirePositiveNumber(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw invalid(name, 'must be a positive number');
  return value;
}

function scopeTokens(value: unknown, name: string): string[] {
  if (typeof value === 'string' || typeof (value as Iterable<unknown> | null)?.[Symbol.iterator] !== 'function') {
    throw invalid(name, 'must be a list of scope tokens');
  }
  const tokens = [...(value as Iterable<unknown>)];
  const bad = findInvalidScopeToken(tokens);
  if (bad !== -1) {
    throw invalid(name, `contains ${JSON.stringify(tokens[bad]) ?? String(tokens[bad])}, which is not a scope token (RFC 6749 §3.3 allows printable ASCII except space, " and \\)`);
  }
  return uniqueTokens(tokens as string[]);
}

function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw invalid(name, `must be one of ${allowed.map((option) => `'${option}'`).join(', ')}`);
  return value as T;
}

const INVALID_SETTING = 'Invalid setting: ';

function invalid(name: string, problem: string): DeviceFlowError {
  return new DeviceFlowError('ClientError', `${INVALID_SETTING}${name} ${problem}`);
}
