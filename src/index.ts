/**
 * OAuth 2.0 Device Authorization Grant (RFC 8628): an XState v5 statechart, the Qt-compatible
 * `OAuth2DeviceAuthorizationFlow` class, and a promise API.
 *
 * @module
 * @see [RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)
 */

export { OAuth2DeviceAuthorizationFlow } from './flow.js';
export type { DeviceFlowOptions, DeviceFlowSignalName, DeviceFlowSignals } from './flow.js';

export { authorizeDevice } from './authorizeDevice.js';
export type { AuthorizeDeviceHooks, DeviceTokens, UserCodePrompt } from './authorizeDevice.js';

export { createDeviceAuthorizationMachine, deviceAuthorizationMachine } from './machine.js';
export { deviceAuthorizationChart } from '../machines/deviceAuthorization.js';
export type { DeviceAuthorizationMachine } from '../machines/deviceAuthorization.js';
export type {
  ClientRequest,
  DeviceAuthorizationRequest,
  DeviceFlowContext,
  DeviceFlowEmitted,
  DeviceFlowEvent,
  DeviceFlowInput,
  DeviceFlowTag,
  DeviceTokenRequest,
  FlowProperties,
  FlowResults,
  FlowSettings,
  FlowStatus,
  NonceMode,
  PropertyChangedEvent,
  RefreshTokenRequest,
} from '../machines/types.js';

export { createDeviceFlowActors, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_TIMEOUT_MS } from './services.js';
export type { DeviceFlowActors, ModifiableRequest, ParameterModifier, RequestModifier, TransportOptions, TransportOptionsSource } from './services.js';
export type { FetchFunction } from './http/sendRequest.js';

export { createFlowSnapshot, readFlowSnapshot, SNAPSHOT_FORMAT, SNAPSHOT_VERSION } from './persistence.js';
export type { DeviceFlowSnapshot } from './persistence.js';

export { createInspectionSanitizer, createInspectorSanitizers, sanitizeInspectionEvent } from './inspection.js';

export { DeviceFlowError, isDeviceFlowError } from './errors.js';
export type { DeviceFlowErrorCode, DeviceFlowErrorData, OAuthErrorFields } from './errors.js';

export { parseDeviceAuthorizationResponse } from './protocol/deviceAuthorizationResponse.js';
export type { DeviceAuthorization } from './protocol/deviceAuthorizationResponse.js';
export { parsePollResponse, parseRefreshResponse } from './protocol/tokenResponse.js';
export type { PollOutcome, TokenRequestContext, TokenResponse } from './protocol/tokenResponse.js';
export { parseResponseBody } from './protocol/responseBody.js';
export { isAccessDenied } from './protocol/serverError.js';
export type { ResponseMembers } from './protocol/responseBody.js';
export type { ClientAuthenticationMethod, Stage } from './protocol/requests.js';
export type { FlowSettingsInput } from './settings.js';
export { createPreciseClock } from './clocks.js';
export type { Clock } from './clocks.js';
