/**
 * Every property of the flow, declared once: its default, its kind (how the application's value is checked, how a
 * stored value is checked, how the class shows it), whether the application may set it, whether it is a secret,
 * whether `grant()` resets it, and when two of its values are the same. The statechart's context, its `…Changed`
 * events, the settings and options types, the class's signals and getters, snapshot checks and inspection redaction
 * all follow from this table.
 *
 * @module
 */

import { jsonValueProblem } from './jsonLimits.js';
import { MAX_POLL_JITTER_MS } from './pollJitter.js';
import { invalidSetting } from './optionChecks.js';
import { readUserCode, readVerificationUrl } from './protocol/deviceAuthorizationResponse.js';
import { MAX_SERVER_DURATION_SECONDS } from './protocol/members.js';
import type { ClientAuthenticationMethod } from './protocol/requests.js';
import { findInvalidScopeToken, MAX_SCOPE_TOKENS, uniqueTokens } from './protocol/scope.js';
import { MAX_TOKEN_LIFETIME_SECONDS } from './protocol/tokenResponse.js';
import { parseHttpUrl } from './protocol/urls.js';
import {
  ASYMMETRIC_ALGORITHMS,
  type FlowProperties,
  type FlowStatus,
  type NonceMode,
  PROPERTY_RULES,
  type PropertyName,
  SETTING_NAMES,
  type SettingName,
  type SigningAlgorithm,
} from './propertyRules.js';

export {
  ASYMMETRIC_ALGORITHMS,
  initialProperties,
  PROPERTY_NAMES,
  resetProperties,
  sameProperty,
  SECRET_PROPERTY_NAMES,
  SETTING_NAMES,
} from './propertyRules.js';
export type { FlowProperties, FlowStatus, NonceMode, PropertyName, SettingName, SigningAlgorithm } from './propertyRules.js';

/** A value the application gave that does not fit: its message follows the property's name. */
class PropertyProblem extends Error {}

/**
 * A kind of property value: how a value the application gives is read (`Input` → `Value`), whether a stored value
 * fits, and what the class shows (`Shown`).
 *
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html) for the properties
 */
export interface Kind<Value, Input, Shown> {
  /** The application's value, checked and normalised. @throws {PropertyProblem} what is wrong with it. */
  read(value: unknown): Value;
  /** What is wrong with a stored value (a snapshot's, saved at `savedAt`), or `null`. */
  check(value: unknown, savedAt: number): string | null;
  /** The value as the class shows it. */
  show(value: Value): Shown;
  /** Carries `Input` for the types; never set. */
  readonly input?: Input;
}

/**
 * A property: {@link Kind}, default, and the rules that differ between properties of one kind.
 *
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html) for the properties
 */
export interface Declaration<Value, Input, Shown> {
  readonly kind: Kind<Value, Input, Shown>;
  readonly initial: Value;
  /** The application may set it (a setting), or only the flow does (a result). */
  readonly writable: boolean;
  /** A token: redacted from inspection events and errors. */
  readonly secret: boolean;
  /** `grant()` resets it to `initial`, announcing the resets in the order of this table (Qt's order). */
  readonly resetByGrant: boolean;
  /** When two values are the same: no `…Changed` event, no change. */
  readonly same: (a: Value, b: Value) => boolean;
}

function problem(message: string): never {
  throw new PropertyProblem(message);
}

/** What `read` finds wrong, or `null`. */
function readProblem(read: (value: unknown) => unknown, value: unknown): string | null {
  try {
    read(value);
    return null;
  } catch (error) {
    if (error instanceof PropertyProblem) return error.message;
    throw error;
  }
}

/** A kind whose stored values are checked as the application's are. */
function settingKind<Value, Input = Value, Shown = Value>(read: (value: unknown) => Value, show: (value: Value) => Shown = (value) => value as unknown as Shown): Kind<Value, Input, Shown> {
  return { read, check: (value) => readProblem(read, value), show };
}

/** A kind of value only the flow sets: the application cannot give one. */
function resultKind<Value, Shown = Value>(check: (value: unknown, savedAt: number) => string | null, show: (value: Value) => Shown = (value) => value as unknown as Shown): Kind<Value, never, Shown> {
  return { read: () => problem('is read-only'), check, show };
}

const text = settingKind<string>((value) => (typeof value === 'string' ? value : problem('must be a string')));
// RFC 6749 §7.1: a token type is a short name (Bearer, DPoP, or one registered by an extension).
const tokenType = settingKind<string>((value) => (typeof value === 'string' && /^[\w.-]{0,64}$/.test(value) ? value : problem('must be a token type name such as Bearer or DPoP')));
const flag = settingKind<boolean>((value) => (typeof value === 'boolean' ? value : problem('must be true or false')));

function oneOf<T extends string>(...allowed: T[]) {
  return settingKind<T>((value) => (allowed.includes(value as T) ? (value as T) : problem(`must be one of ${allowed.map((option) => `'${option}'`).join(', ')}`)));
}

const endpoint = settingKind<string | null, string | URL | null, URL | null>(
  (value) => {
    if (value === null || value === '') return null;
    const url = parseHttpUrl(value);
    if (typeof url !== 'string') return url.href;
    // Credentials in a URL end up in error messages and logs: the client secret has its own setting.
    return problem(url.includes('user name') ? `${url}: set clientIdentifierSharedKey, or add credentials with a request modifier` : url);
  },
  (value) => (value === null ? null : new URL(value)),
);

/**
 * The issuer identifier: checked as an endpoint is, but kept exactly as given, since an ID token's `iss` must equal it
 * character for character (`https://as.example` and `https://as.example/` are two issuers).
 */
const issuer = settingKind<string | null, string | URL | null, string | null>((value) => {
  if (value === null || value === '') return null;
  const url = parseHttpUrl(value);
  if (typeof url === 'string') return problem(url.includes('user name') ? `${url}` : url);
  // OpenID Connect Discovery §2: an issuer has no query or fragment.
  if (url.search !== '' || url.hash !== '') return problem('must have no query or fragment');
  return value instanceof URL ? value.href : (value as string);
});

const seconds = settingKind<number>((value) =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : problem('must be a number of seconds, 0 or more'),
);

const jitterBound = settingKind<number>((value) =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_POLL_JITTER_MS
    ? value
    : problem(`must be a number of milliseconds from 0 to ${MAX_POLL_JITTER_MS}`),
);

const failureBudget = settingKind<number | null>((value) =>
  value === null || (Number.isSafeInteger(value) && (value as number) >= 0) ? (value as number | null) : problem('must be a whole number, 0 or more, or null for no limit'),
);

const requestedScope = settingKind<string[], Iterable<string>, readonly string[]>((value) => {
  if (typeof value === 'string' || typeof (value as Iterable<unknown> | null)?.[Symbol.iterator] !== 'function') problem('must be a list of scope tokens');
  const tokens = [...(value as Iterable<unknown>)];
  const bad = findInvalidScopeToken(tokens);
  if (bad !== -1) {
    problem(`contains ${JSON.stringify(tokens[bad]) ?? String(tokens[bad])}, which is not a scope token (RFC 6749 §3.3 allows printable ASCII except space, " and \\)`);
  }
  return uniqueTokens(tokens as string[]);
}, frozenCopy);

const DAY_MS = MAX_SERVER_DURATION_SECONDS * 1000;
// A minute beyond a day covers the back-off and a request in flight at the moment of saving.
const CODE_HORIZON_MS = DAY_MS + 60_000;
const TOKEN_HORIZON_MS = MAX_TOKEN_LIFETIME_SECONDS * 1000 + DAY_MS;

/** An epoch-ms time, or `null`; stored, no later than `horizon` after the snapshot was saved. */
function time(horizon: number) {
  return resultKind<number | null, Date | null>(
    (value, savedAt) =>
      value === null || (typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= savedAt + horizon)
        ? null
        : `must be a time no later than ${horizon / 3_600_000} hours after the snapshot was saved`,
    (value) => (value === null ? null : new Date(value)),
  );
}

const userCode = resultKind<string>((value) => (value === '' || readUserCode(value) !== null ? null : 'must be empty or a user code a person can type'));
const verificationUrl = resultKind<string | null, URL | null>(
  (value) => (value === null || readVerificationUrl(value) !== null ? null : 'must be an http: or https: URL without userinfo'),
  (value) => (value === null ? null : new URL(value)),
);
const grantedScope = resultKind<string[], readonly string[]>(
  (value) =>
    Array.isArray(value) && value.length <= MAX_SCOPE_TOKENS && value.every((token) => typeof token === 'string' && token !== '' && !/[ ,]/.test(token))
      ? null
      : 'must be a list of scope tokens',
  frozenCopy,
);
const record = resultKind<Record<string, unknown>, Readonly<Record<string, unknown>>>(
  (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be an object';
    const found = jsonValueProblem(value);
    return found === null ? null : `must be plain JSON: it ${found}`;
  },
  (value) => deepFrozenCopy(value),
);
const secretText = resultKind<string>((value) => (typeof value === 'string' ? null : 'must be a string'));
const claims = resultKind<Record<string, unknown> | null, Readonly<Record<string, unknown>> | null>(
  (value) => (value === null ? null : record.check(value, 0)),
  (value) => (value === null ? null : deepFrozenCopy(value)),
);

const signingAlgorithms = settingKind<SigningAlgorithm[], Iterable<SigningAlgorithm>, readonly SigningAlgorithm[]>((value) => {
  if (typeof value === 'string' || typeof (value as Iterable<unknown> | null)?.[Symbol.iterator] !== 'function') problem('must be a list of JWS algorithms');
  const algorithms = [...new Set(value as Iterable<unknown>)];
  const bad = algorithms.find((algorithm) => !ASYMMETRIC_ALGORITHMS.includes(algorithm as SigningAlgorithm));
  if (bad !== undefined) problem(`contains ${JSON.stringify(bad) ?? String(bad)}, which is not one of ${ASYMMETRIC_ALGORITHMS.join(', ')} ('none' and HMAC are never allowed)`);
  if (algorithms.length === 0) problem('must name at least one algorithm');
  return algorithms as SigningAlgorithm[];
}, frozenCopy);
const status = resultKind<FlowStatus>((value) =>
  ['NotAuthenticated', 'TemporaryCredentialsReceived', 'Granted', 'RefreshingToken'].includes(value as string) ? null : 'must be a status',
);
const resultFlag = resultKind<boolean>((value) => (typeof value === 'boolean' ? null : 'must be true or false'));

function frozenCopy<T extends string>(value: readonly T[]): readonly T[] {
  return Object.freeze([...value]);
}

/**
 * A copy of plain JSON `value`, frozen all the way down: what the application reads must not reach into the
 * statechart's context (an `aud` array pushed to would change what the next refresh is checked against). The values
 * passed the JSON limits, so the copy is bounded.
 */
function deepFrozenCopy<T extends object>(value: T): Readonly<T> {
  const copy = structuredClone(value);
  const pending: object[] = [copy];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    Object.freeze(item);
    for (const member of Object.values(item)) if (typeof member === 'object' && member !== null) pending.push(member);
  }
  return copy;
}

/** Property `name`'s declaration: `kind`, with the default and rules the statechart takes from {@link PROPERTY_RULES}. */
function declare<K extends PropertyName, Input, Shown>(name: K, kind: Kind<(typeof PROPERTY_RULES)[K]['initial'], Input, Shown>) {
  return { kind, ...PROPERTY_RULES[name] } satisfies Declaration<(typeof PROPERTY_RULES)[K]['initial'], Input, Shown>;
}

/**
 * The properties of the flow: those of Qt's class, with the same names and notify signals, and a few of this
 * package's own (`nextPollAt`, `maxConsecutiveFailures`, `pollJitter`, `allowInsecureHttp`, `clientAuthentication`). Values are plain
 * JSON (URLs as strings, times as epoch milliseconds), so that snapshots stay plain JSON; the class shows them as
 * `URL`s, `Date`s and frozen copies.
 *
 * The order is that of the context, and of `grant()`'s reset announcements (Qt's order).
 *
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 * @see [RFC 8628 §3.2](https://www.rfc-editor.org/rfc/rfc8628#section-3.2) for the user code members
 * @see [RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1) for the token members
 */
export const PROPERTIES = {
  /** The device authorization endpoint. */
  authorizationUrl: declare('authorizationUrl', endpoint),
  /** The token endpoint, polled with the device code and used for refreshes. */
  tokenUrl: declare('tokenUrl', endpoint),
  /** The `client_id`. */
  clientIdentifier: declare('clientIdentifier', text),
  /** How the client authenticates when a secret is set. */
  clientAuthentication: declare('clientAuthentication', oneOf<ClientAuthenticationMethod>('client_secret_post', 'client_secret_basic', 'none')),
  /** The scope tokens to request, in the order they are sent. */
  requestedScopeTokens: declare('requestedScopeTokens', requestedScope),
  /** When to send a nonce. */
  nonceMode: declare('nonceMode', oneOf<NonceMode>('Automatic', 'Enabled', 'Disabled')),
  /** The nonce; generated by `grant()` when one is needed and this is empty. */
  nonce: declare('nonce', text),
  /** Refresh automatically when the access token is about to expire. */
  autoRefresh: declare('autoRefresh', flag),
  /** Seconds before expiry at which `accessTokenAboutToExpire` fires; 0 lets the flow choose. */
  refreshLeadTime: declare('refreshLeadTime', seconds),
  /** The access token. */
  token: declare('token', text),
  /** The refresh token. */
  refreshToken: declare('refreshToken', text),
  /** Allow plain `http:` endpoints that are not on this machine. */
  allowInsecureHttp: declare('allowInsecureHttp', flag),
  /** How many transport faults in a row polling rides out; `null` until the code expires, 0 none. */
  maxConsecutiveFailures: declare('maxConsecutiveFailures', failureBudget),
  /**
   * The most milliseconds added at random to the polling interval before each poll (40 by default; 0 polls exactly
   * at the interval, as Qt does), so that many flows answered together do not keep polling together. Polls are never
   * early: the jitter is only ever added (RFC 8628 §3.5).
   */
  pollJitter: declare('pollJitter', jitterBound),
  /** The issuer identifier; with it, ID tokens are validated (OpenID Connect Core §3.1.3.7). */
  issuer: declare('issuer', issuer),
  /** The issuer's JSON Web Key Set, which verifies ID token signatures. */
  jwksUrl: declare('jwksUrl', endpoint),
  /** The revocation endpoint (RFC 7009). */
  revocationUrl: declare('revocationUrl', endpoint),
  /** The JWS algorithms an ID token may be signed with. */
  idTokenSigningAlgorithms: declare('idTokenSigningAlgorithms', signingAlgorithms),
  /** Seconds of clock difference with the issuer tolerated when checking an ID token's `exp` and `iat`. */
  clockTolerance: declare('clockTolerance', seconds),
  /** The user code, empty when none is out. */
  userCode: declare('userCode', userCode),
  /** Where the user enters the code. */
  verificationUrl: declare('verificationUrl', verificationUrl),
  /** The verification URL with the code in it; `null` when the server sent none. */
  completeVerificationUrl: declare('completeVerificationUrl', verificationUrl),
  /** When the user code expires (epoch ms). */
  userCodeExpirationAt: declare('userCodeExpirationAt', time(CODE_HORIZON_MS)),
  /** Non-standard members of the device authorization and token responses. */
  extraTokens: declare('extraTokens', record),
  /** When the access token expires (epoch ms). */
  expirationAt: declare('expirationAt', time(TOKEN_HORIZON_MS)),
  /** Whether polling is active (waiting for or sending a poll). */
  polling: declare('polling', resultFlag),
  /** When the next poll goes out (epoch ms); `null` while not polling. */
  nextPollAt: declare('nextPollAt', time(CODE_HORIZON_MS)),
  /** Where the flow stands. */
  status: declare('status', status),
  /** The ID token, empty when none was received. */
  idToken: declare('idToken', secretText),
  /** The granted scope tokens (their order carries no meaning). */
  grantedScopeTokens: declare('grantedScopeTokens', grantedScope),
  /** The access token's type as the server said it (`Bearer`, `DPoP`, or another); empty when not known. */
  tokenType: declare('tokenType', tokenType),
  /** The claims of the ID token, once validated; `null` without an ID token, or when none was validated. */
  idTokenClaims: declare('idTokenClaims', claims),
};

/**
 * What the application configures: the writable properties.
 *
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 * @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1)
 */
export type FlowSettings = Pick<FlowProperties, SettingName>;

/**
 * What the flow found out: the user code, the tokens, and where it stands.
 *
 * @see [RFC 8628 §3.2](https://www.rfc-editor.org/rfc/rfc8628#section-3.2)
 * @see [RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1)
 */
export type FlowResults = Omit<FlowProperties, SettingName>;

/**
 * Settings as the application may give them: URLs as strings or `URL`s, scope tokens as any iterable. They are
 * checked before they reach the machine: an invalid one throws a `ClientError`, and none is applied.
 *
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 * @see [RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3) for `requestedScopeTokens`
 */
export type FlowSettingsInput = { [K in SettingName]?: NonNullable<(typeof PROPERTIES)[K]['kind']['input']> | Extract<FlowProperties[K], null> };

/**
 * Every property as the class shows it: URLs as `URL`, times as `Date`, lists and records as frozen copies.
 *
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 */
export type ShownProperties = { -readonly [K in PropertyName]: ReturnType<(typeof PROPERTIES)[K]['kind']['show']> };

/** Property `name`'s value as the class shows it. */
export function showProperty<K extends PropertyName>(name: K, value: FlowProperties[K]): ShownProperties[K] {
  return (PROPERTIES[name].kind.show as (value: FlowProperties[K]) => ShownProperties[K])(value);
}

/**
 * The settings in `input`, read and normalised by their kinds; members that are `undefined` are left out.
 *
 * @throws {DeviceFlowError} `ClientError` naming the first setting that does not fit; nothing is applied then. The
 *   message never quotes a value: it may be a token.
 */
export function readSettings(input: FlowSettingsInput): Partial<FlowSettings> {
  const settings: Record<string, unknown> = {};
  for (const name of SETTING_NAMES) {
    const value = input[name];
    if (value === undefined) continue;
    try {
      settings[name] = PROPERTIES[name].kind.read(value);
    } catch (error) {
      if (error instanceof PropertyProblem) throw invalidSetting(name, error.message);
      throw error;
    }
  }
  return settings as Partial<FlowSettings>;
}

/** What is wrong with `value` stored as property `name` in a snapshot saved at `savedAt`, or `null`. */
export function storedPropertyProblem(name: PropertyName, value: unknown, savedAt: number): string | null {
  return PROPERTIES[name].kind.check(value, savedAt);
}
