/**
 * What the statechart needs of each property: its default, whether the application may set it, whether it is a
 * secret, whether `grant()` resets it, and when two of its values are the same. The property table's other half, how
 * a value is read, checked and shown (its kind), is in properties.ts, which only the class, settings and snapshots
 * need: an application that uses the statechart alone does not carry it.
 *
 * @module
 */

import { DEFAULT_POLL_JITTER_MS } from './pollJitter.js';
import type { ClientAuthenticationMethod } from './protocol/requests.js';
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

interface Rules<Value> {
  secret?: boolean;
  resetByGrant?: boolean;
  same?: (a: Value, b: Value) => boolean;
}

function setting<Value>(initial: Value, rules: Rules<Value> = {}) {
  return { initial, writable: true as const, secret: rules.secret ?? false, resetByGrant: false, same: rules.same ?? Object.is };
}

function result<Value>(initial: Value, rules: Rules<Value> = {}) {
  return { initial, writable: false as const, secret: rules.secret ?? false, resetByGrant: rules.resetByGrant ?? false, same: rules.same ?? Object.is };
}

/**
 * Each property's default and rules, in the order of the context and of `grant()`'s reset announcements (Qt's
 * order). `PROPERTIES` (properties.ts) adds each one's kind and documents it.
 */
export const PROPERTY_RULES = {
  authorizationUrl: setting<string | null>(null),
  tokenUrl: setting<string | null>(null),
  clientIdentifier: setting(''),
  clientAuthentication: setting<ClientAuthenticationMethod>('client_secret_post'),
  requestedScopeTokens: setting<string[]>([], { same: sameList }),
  nonceMode: setting<NonceMode>('Automatic'),
  nonce: setting(''),
  autoRefresh: setting(false),
  refreshLeadTime: setting(0),
  token: setting('', { secret: true }),
  refreshToken: setting('', { secret: true }),
  allowInsecureHttp: setting(false),
  maxConsecutiveFailures: setting<number | null>(null),
  pollJitter: setting(DEFAULT_POLL_JITTER_MS),
  issuer: setting<string | null>(null),
  jwksUrl: setting<string | null>(null),
  revocationUrl: setting<string | null>(null),
  idTokenSigningAlgorithms: setting<SigningAlgorithm[]>([...ASYMMETRIC_ALGORITHMS], { same: sameList }),
  clockTolerance: setting(5),
  userCode: result('', { resetByGrant: true }),
  verificationUrl: result<string | null>(null, { resetByGrant: true }),
  completeVerificationUrl: result<string | null>(null, { resetByGrant: true }),
  userCodeExpirationAt: result<number | null>(null, { resetByGrant: true }),
  extraTokens: result<Record<string, unknown>>({}, { resetByGrant: true, same: sameJson }),
  expirationAt: result<number | null>(null, { resetByGrant: true }),
  polling: result(false, { resetByGrant: true }),
  nextPollAt: result<number | null>(null, { resetByGrant: true }),
  status: result<FlowStatus>('NotAuthenticated', { resetByGrant: true }),
  idToken: result('', { secret: true }),
  grantedScopeTokens: result<string[]>([], { same: sameSet }),
  tokenType: setting(''),
  idTokenClaims: result<Record<string, unknown> | null>(null, { same: sameJson }),
};

/**
 * The name of a property.
 *
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 */
export type PropertyName = keyof typeof PROPERTY_RULES;

/**
 * The name of a property the application may set.
 *
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 */
export type SettingName = { [K in PropertyName]: (typeof PROPERTY_RULES)[K]['writable'] extends true ? K : never }[PropertyName];

/**
 * Every value the flow announces with a `…Changed` event, by property name (see `PROPERTIES`).
 *
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 */
export type FlowProperties = { -readonly [K in PropertyName]: (typeof PROPERTY_RULES)[K]['initial'] };

/** Every property name, in the order of the table. */
export const PROPERTY_NAMES = /* @__PURE__ */ Object.keys(PROPERTY_RULES) as PropertyName[];

/** The names of the settings. */
export const SETTING_NAMES = /* @__PURE__ */ PROPERTY_NAMES.filter((name): name is SettingName => PROPERTY_RULES[name].writable);

/** The names of the properties that hold a token. */
export const SECRET_PROPERTY_NAMES = /* @__PURE__ */ PROPERTY_NAMES.filter((name) => PROPERTY_RULES[name].secret);

/**
 * The defaults, frozen: every flow's context starts from these very values (nothing changes a property's value in
 * place; a change replaces it), so that a thousand flows hold one list of signing algorithms, not a thousand copies.
 */
let defaults: { all: FlowProperties; reset: Partial<FlowProperties> } | undefined;

function sharedDefaults(): { all: FlowProperties; reset: Partial<FlowProperties> } {
  if (defaults !== undefined) return defaults;
  const all: Record<string, unknown> = {};
  const reset: Record<string, unknown> = {};
  for (const name of PROPERTY_NAMES) {
    const value = Object.freeze(PROPERTY_RULES[name].initial);
    all[name] = value;
    if (PROPERTY_RULES[name].resetByGrant) reset[name] = value;
  }
  return (defaults = { all: Object.freeze(all) as FlowProperties, reset: Object.freeze(reset) as Partial<FlowProperties> });
}

/** Every property at its default. */
export function initialProperties(): FlowProperties {
  return { ...sharedDefaults().all };
}

/** The properties `grant()` resets, at their defaults, in reset order. */
export function resetProperties(): Partial<FlowProperties> {
  return sharedDefaults().reset;
}

/** Whether `a` and `b` are the same value of property `name`, by its rule. */
export function sameProperty<K extends PropertyName>(name: K, a: FlowProperties[K], b: FlowProperties[K]): boolean {
  return (PROPERTY_RULES[name].same as (a: FlowProperties[K], b: FlowProperties[K]) => boolean)(a, b);
}
