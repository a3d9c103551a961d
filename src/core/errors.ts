/**
 * The one error type of the package: every failure reported by `requestFailed`, by the promise API and by the
 * machine's `requestFailed` emitted event is a {@link DeviceFlowError}.
 *
 * @module
 */

/**
 * Why a request failed. The names are those of Qt's `QAbstractOAuth::Error`, so code ported from Qt can keep its
 * `switch`.
 *
 * - `NetworkError`: no response at all: connection refused or reset, timeout, aborted body. While polling, also a
 *   429 or 5xx answer without an OAuth error body (a proxy's error page), `server_error` with such a status and
 *   `temporarily_unavailable`: polling rides these out with back-off.
 * - `ServerError`: a response arrived that cannot be used: an OAuth error (`error` member), a body that is neither
 *   JSON nor form-encoded, or beyond the limits on size and nesting, or (outside polling) a 429 or 5xx answer
 *   without an OAuth error.
 * - `OAuthTokenNotFoundError`: the server answered, but a required member is missing or unusable.
 * - `ClientError`: missing or invalid configuration, or a call in a state where it is not allowed.
 * - `ExpiredError`: the user code expired, locally or by the server's `expired_token`.
 *
 * @see [RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5)
 * @see [Qt's QAbstractOAuth::Error](https://doc.qt.io/qt-6/qabstractoauth.html#Error-enum)
 */
export type DeviceFlowErrorCode =
  | 'NetworkError'
  | 'ServerError'
  | 'OAuthTokenNotFoundError'
  | 'ClientError'
  | 'ExpiredError';

/**
 * The members of an OAuth error response, and the HTTP status and `Retry-After` it came with.
 *
 * @see [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)
 * @see [RFC 9110 §10.2.3](https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3) for `retryAfter`
 */
export interface OAuthErrorFields {
  /** The `error` member, e.g. `access_denied`. */
  error?: string;
  /** The `error_description` member. */
  errorDescription?: string;
  /** The `error_uri` member. */
  errorUri?: string;
  /** The HTTP status of the response, when there was one. */
  status?: number;
  /** The server's `Retry-After`, in seconds, on a 429 or 503 answer. */
  retryAfter?: number;
}

/**
 * A {@link DeviceFlowError} as plain, JSON-serialisable data. The statechart keeps failures in this form in its
 * context, so persisted snapshots stay plain JSON.
 *
 * @see [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)
 * @see [XState persistence](https://stately.ai/docs/persistence)
 */
export interface DeviceFlowErrorData extends OAuthErrorFields {
  code: DeviceFlowErrorCode;
  message: string;
}

/**
 * A failed device-flow request.
 *
 * The message is built from fixed text and the server's `error` and `error_description`; it never contains a token,
 * the device code or the client secret.
 *
 * @example
 * ```ts
 * flow.on('requestFailed', (err) => {
 *   switch (err.code) {
 *     case 'ExpiredError': showRestartButton(); break;
 *     case 'ServerError': if (err.error === 'access_denied') showDenied(); break;
 *   }
 * });
 * ```
 * @see [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2) for the error response members.
 */
export class DeviceFlowError extends Error {
  /** Why the request failed. */
  readonly code: DeviceFlowErrorCode;
  // Declared, not defined: an error carries only the fields that were set.
  /** The server's `error` member, when the server sent one. */
  declare readonly error?: string;
  /** The server's `error_description` member. */
  declare readonly errorDescription?: string;
  /** The server's `error_uri` member. */
  declare readonly errorUri?: string;
  /** The HTTP status of the response, when there was one. */
  declare readonly status?: number;
  /** The server's `Retry-After`, in seconds, on a 429 or 503 answer. */
  declare readonly retryAfter?: number;

  /**
   * @param code What went wrong, the stable value to `switch` on.
   * @param message Human-readable; never holds a token, the device code or the client secret.
   * @param fields What the server said, when it said something.
   * @param options `cause`: the underlying error (a network failure, a parse error).
   */
  constructor(code: DeviceFlowErrorCode, message: string, fields: OAuthErrorFields = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DeviceFlowError';
    this.code = code;
    Object.assign(this, setFields(fields));
  }

  /** Rebuilds an error from its plain-data form. */
  static fromData(data: DeviceFlowErrorData): DeviceFlowError {
    const { code, message, ...fields } = data;
    return new DeviceFlowError(code, message, fields);
  }

  /** The plain-data form; also what `JSON.stringify` writes. */
  toData(): DeviceFlowErrorData {
    return { code: this.code, message: this.message, ...setFields(this) };
  }

  /** What `JSON.stringify` writes: {@link DeviceFlowError.toData}. */
  toJSON(): DeviceFlowErrorData {
    return this.toData();
  }
}

/** The names of {@link OAuthErrorFields}. */
const FIELD_NAMES = ['error', 'errorDescription', 'errorUri', 'status', 'retryAfter'] as const satisfies readonly (keyof OAuthErrorFields)[];

/** The fields of `source` that are set, as plain data. */
function setFields(source: OAuthErrorFields): OAuthErrorFields {
  const fields: Record<string, unknown> = {};
  for (const name of FIELD_NAMES) if (source[name] !== undefined) fields[name] = source[name];
  return fields as OAuthErrorFields;
}

/** The message of every `ExpiredError`: the flow's own, at the code's expiry, and the server's `expired_token`. */
export const USER_CODE_EXPIRED = 'The user code expired before the user completed the authorization';

/**
 * Whether `value` is a {@link DeviceFlowError}, also across realms and bundle copies, where `instanceof` fails: an
 * `Error` named `DeviceFlowError` with a string `code` counts too.
 *
 * @see [instanceof](https://developer.mozilla.org/en-US/docs/Web/JavaScript/Reference/Operators/instanceof)
 */
export function isDeviceFlowError(value: unknown): value is DeviceFlowError {
  return (
    value instanceof DeviceFlowError ||
    (value instanceof Error && value.name === 'DeviceFlowError' && typeof (value as { code?: unknown }).code === 'string')
  );
}

/**
 * An optional package a feature needs is not installed (`oidc-provider` for the development server,
 * `@statelyai/inspect` for the inspector relay): a `ClientError` whose message says what to install.
 *
 * @see [npm's optional peer dependencies](https://docs.npmjs.com/cli/v11/configuring-npm/package-json#peerdependenciesmeta)
 */
export class MissingPackageError extends DeviceFlowError {
  /** The package to install, with its version range (`oidc-provider@8`). */
  readonly packageName: string;

  /**
   * @param packageName what to install, e.g. `oidc-provider@8`.
   * @param feature what needs it, e.g. `the local authorization server`.
   */
  constructor(packageName: string, feature: string) {
    super('ClientError', `${feature[0]!.toUpperCase()}${feature.slice(1)} needs the optional ${packageName.replace(/@[^@/]*$/, '')} package: npm install ${packageName}`);
    this.packageName = packageName;
  }
}
