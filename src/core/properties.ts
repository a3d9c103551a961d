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
import { invalidSetting } from './optionChecks.js';
import { readUserCode, readVerificationUrl } from './protocol/deviceAuthorizationResponse.js';
import { MAX_SERVER_DURATION_SECONDS } from './protocol/members.js';
import type { ClientAuthenticationMethod } from './protocol/requests.js';
import { findInvalidScopeToken, MAX_SCOPE_TOKENS, uniqueTokens } from './protocol/scope.js';
import { MAX_TOKEN_LIFETIME_SECONDS } from './protocol/tokenResponse.js';
import { parseHttpUrl } from './protocol/urls.js';
import { sameJson, sameList, sameSet } from './sameValue.js';

/**
 * Where the flow stands, with the names of Qt's `QAbstractOAuth::Status`.
 *
 * - `NotAuthenticated`: no user code is out (idle, authorizing, or the authorization failed);
 * - `TemporaryCredentialsReceived`: a user code is out and the flow waits for the user;
 * - `Granted`: tokens were received;
 * - `RefreshingToken`: a refresh request is in flight.
 *
 * @see [Qt's QAbstractOAuth::Status](https://doc.qt.io/qt-6/qabstractoauth.html#Status-enum)
 */
export type FlowStatus = 'NotAuthenticated' | 'TemporaryCredentialsReceived' | 'Granted' | 'RefreshingToken';

/**
 * When the device authorization request carries a `nonce`, as Qt's `QAbstractOAuth2::NonceMode`: `Automatic` sends
 * one when the `openid` scope is requested.
 *
 * @see [Qt's QAbstractOAuth2::NonceMode](https://doc.qt.io/qt-6/qabstractoauth2.html#NonceMode-enum)
 * @see [OpenID Connect Core §3.1.2.1](https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest) for `nonce`
 */
export type NonceMode = 'Automatic' | 'Enabled' | 'Disabled';

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

/**
 * The JWS algorithms an ID token may be signed with: the asymmetric ones of RFC 7518 and RFC 8037. `none` and the
 * HMAC algorithms (`HS256`…) are never admitted: the key set is public, and a key from it must not verify a MAC.
 *
 * @see [RFC 7518 §3.1](https://www.rfc-editor.org/rfc/rfc7518#section-3.1)
 * @see [RFC 8037 §3.1](https://www.rfc-editor.org/rfc/rfc8037#section-3.1) for `EdDSA`
 * @see [RFC 8725 §3.1](https://www.rfc-editor.org/rfc/rfc8725#section-3.1) on algorithm confusion
 */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

/**
 * An asymmetric JWS algorithm (see {@link ASYMMETRIC_ALGORITHMS}).
 *
 * @see [RFC 7518 §3.1](https://www.rfc-editor.org/rfc/rfc7518#section-3.1)
 */
export type SigningAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

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

interface Rules<Value> {
  secret?: boolean;
  resetByGrant?: boolean;
  same?: (a: Value, b: Value) => boolean;
}

function setting<Value, Input, Shown>(kind: Kind<Value, Input, Shown>, initial: Value, rules: Rules<Value> = {}) {
  return { kind, initial, writable: true as const, secret: rules.secret ?? false, resetByGrant: false, same: rules.same ?? Object.is } satisfies Declaration<Value, Input, Shown>;
}

function result<Value, Shown>(kind: Kind<Value, never, Shown>, initial: Value, rules: Rules<Value> = {}) {
  return {
    kind,
    initial,
    writable: false as const,
    secret: rules.secret ?? false,
    resetByGrant: rules.resetByGrant ?? false,
    same: rules.same ?? Object.is,
  } satisfies Declaration<Value, never, Shown>;
}

/**
 * The properties of the flow: those of Qt's class, with the same names and notify signals, and a few of this
 * package's own (`nextPollAt`, `maxConsecutiveFailures`, `allowInsecureHttp`, `clientAuthentication`). Values are plain
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
  authorizationUrl: setting(endpoint, null),
  /** The token endpoint, polled with the device code and used for refreshes. */
  tokenUrl: setting(endpoint, null),
  /** The `client_id`. */
  clientIdentifier: setting(text, ''),
  /** How the client authenticates when a secret is set. */
  clientAuthentication: setting(oneOf<ClientAuthenticationMethod>('client_secret_post', 'client_secret_basic', 'none'), 'client_secret_post'),
  /** The scope tokens to request, in the order they are sent. */
  requestedScopeTokens: setting(requestedScope, [], { same: sameList }),
  /** When to send a nonce. */
  nonceMode: setting(oneOf<NonceMode>('Automatic', 'Enabled', 'Disabled'), 'Automatic'),
  /** The nonce; generated by `grant()` when one is needed and this is empty. */
  nonce: setting(text, ''),
  /** Refresh automatically when the access token is about to expire. */
  autoRefresh: setting(flag, false),
  /** Seconds before expiry at which `accessTokenAboutToExpire` fires; 0 lets the flow choose. */
  refreshLeadTime: setting(seconds, 0),
  /** The access token. */
  token: setting(text, '', { secret: true }),
  /** The refresh token. */
  refreshToken: setting(text, '', { secret: true }),
  /** Allow plain `http:` endpoints that are not on this machine. */
  allowInsecureHttp: setting(flag, false),
  /** How many transport faults in a row polling rides out; `null` until the code expires, 0 none. */
  maxConsecutiveFailures: setting(failureBudget, null),
  /** The issuer identifier; with it, ID tokens are validated (OpenID Connect Core §3.1.3.7). */
  issuer: setting(issuer, null),
  /** The issuer's JSON Web Key Set, which verifies ID token signatures. */
  jwksUrl: setting(endpoint, null),
  /** The revocation endpoint (RFC 7009). */
  revocationUrl: setting(endpoint, null),
  /** The JWS algorithms an ID token may be signed with. */
  idTokenSigningAlgorithms: setting(signingAlgorithms, [...ASYMMETRIC_ALGORITHMS], { same: sameList }),
  /** Seconds of clock difference with the issuer tolerated when checking an ID token's `exp` and `iat`. */
  clockTolerance: setting(seconds, 5),
  /** The user code, empty when none is out. */
  userCode: result(userCode, '', { resetByGrant: true }),
  /** Where the user enters the code. */
  verificationUrl: result(verificationUrl, null, { resetByGrant: true }),
  /** The verification URL with the code in it; `null` when the server sent none. */
  completeVerificationUrl: result(verificationUrl, null, { resetByGrant: true }),
  /** When the user code expires (epoch ms). */
  userCodeExpirationAt: result(time(CODE_HORIZON_MS), null, { resetByGrant: true }),
  /** Non-standard members of the device authorization and token responses. */
  extraTokens: result(record, {}, { resetByGrant: true, same: sameJson }),
  /** When the access token expires (epoch ms). */
  expirationAt: result(time(TOKEN_HORIZON_MS), null, { resetByGrant: true }),
  /** Whether polling is active (waiting for or sending a poll). */
  polling: result(resultFlag, false, { resetByGrant: true }),
  /** When the next poll goes out (epoch ms); `null` while not polling. */
  nextPollAt: result(time(CODE_HORIZON_MS), null, { resetByGrant: true }),
  /** Where the flow stands. */
  status: result(status, 'NotAuthenticated' as FlowStatus, { resetByGrant: true }),
  /** The ID token, empty when none was received. */
  idToken: result(secretText, '', { secret: true }),
  /** The granted scope tokens (their order carries no meaning). */
  grantedScopeTokens: result(grantedScope, [], { same: sameSet }),
  /** The access token's type as the server said it (`Bearer`, `DPoP`, or another); empty when not known. */
  tokenType: setting(tokenType, ''),
  /** The claims of the ID token, once validated; `null` without an ID token, or when none was validated. */
  idTokenClaims: result(claims, null, { same: sameJson }),
};

/**
 * The name of a property.
 *
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 */
export type PropertyName = keyof typeof PROPERTIES;

/**
 * The name of a property the application may set.
 *
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 */
export type SettingName = { [K in PropertyName]: (typeof PROPERTIES)[K]['writable'] extends true ? K : never }[PropertyName];

/**
 * Every value the flow announces with a `…Changed` event, by property name (see {@link PROPERTIES}).
 *
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 */
export type FlowProperties = { -readonly [K in PropertyName]: (typeof PROPERTIES)[K]['initial'] };

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

/** Every property name, in the order of {@link PROPERTIES}. */
export const PROPERTY_NAMES = Object.keys(PROPERTIES) as PropertyName[];

/** The names of the settings. */
export const SETTING_NAMES = PROPERTY_NAMES.filter((name): name is SettingName => PROPERTIES[name].writable);

/** The names of the properties that hold a token. */
export const SECRET_PROPERTY_NAMES = PROPERTY_NAMES.filter((name) => PROPERTIES[name].secret);

/** Every property at its default. */
export function initialProperties(): FlowProperties {
  const properties: Record<string, unknown> = {};
  for (const name of PROPERTY_NAMES) properties[name] = structuredClone(PROPERTIES[name].initial);
  return properties as FlowProperties;
}

/** The properties `grant()` resets, at their defaults, in reset order. */
export function resetProperties(): Partial<FlowProperties> {
  const reset: Record<string, unknown> = {};
  for (const name of PROPERTY_NAMES) if (PROPERTIES[name].resetByGrant) reset[name] = structuredClone(PROPERTIES[name].initial);
  return reset as Partial<FlowProperties>;
}

/** Whether `a` and `b` are the same value of property `name`, by its rule. */
export function sameProperty<K extends PropertyName>(name: K, a: FlowProperties[K], b: FlowProperties[K]): boolean {
  return (PROPERTIES[name].same as (a: FlowProperties[K], b: FlowProperties[K]) => boolean)(a, b);
}

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
