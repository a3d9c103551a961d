/**
 * OAuth 2.0 Device Authorization Grant (RFC 8628): an XState v5 statechart, the Qt-compatible
 * `OAuth2DeviceAuthorizationFlow` class, and a promise API.
 *
 * @module
 * @see [RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)
 */

export { OAuth2DeviceAuthorizationFlow } from './flow/oauth2DeviceAuthorizationFlow.js';
export type { DeviceFlowOptions } from './flow/oauth2DeviceAuthorizationFlow.js';
export type { DeviceFlowSignalName, DeviceFlowSignals } from './flow/delivery.js';
export { createMemoryTokenStore } from './flow/tokenStore.js';
export type { TokenStore } from './flow/tokenStore.js';

export { authorizeDevice } from './promise/authorizeDevice.js';
export type { AuthorizeDeviceHooks, DeviceTokens, UserCodePrompt } from './promise/authorizeDevice.js';

export { createDeviceAuthorizationMachine, deviceAuthorizationMachine } from './http/machine.js';
export { deviceAuthorizationChart } from './machines/deviceAuthorization.js';
export type { DeviceAuthorizationMachine } from './machines/deviceAuthorization.js';
export { restartFailedFlowActor, startFlowActor } from './machines/startFlowActor.js';
export type { StartFlowActorOptions } from './machines/startFlowActor.js';
export type * from './machines/types.js';
export type { AcceptedTokens } from './machines/setup.js';
export { ASYMMETRIC_ALGORITHMS, PROPERTIES } from './core/properties.js';
export type {
  Declaration,
  FlowProperties,
  FlowResults,
  FlowSettings,
  FlowSettingsInput,
  FlowStatus,
  Kind,
  NonceMode,
  PropertyName,
  SettingName,
  ShownProperties,
  SigningAlgorithm,
} from './core/properties.js';
export { createDpopSigner, generateDpopKeyPair } from './core/protocol/dpop.js';
export type { DpopAlgorithm, DpopProofRequest, DpopSigner, SavedDpopKey } from './core/protocol/dpop.js';

export { createDeviceFlowActors, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_TIMEOUT_MS } from './http/actors.js';
export type { DeviceFlowActors, ModifiableRequest, ParameterModifier, RequestModifier, TransportOptions, TransportOptionsSource } from './http/actors.js';
export type { FetchFunction } from './http/sendRequest.js';
export { discover, type DiscoveredServer, type DiscoveryOptions } from './http/discovery.js';

export { createFlowSnapshot, readFlowSnapshot, SNAPSHOT_FORMAT, SNAPSHOT_VERSION } from './machines/snapshot.js';
export type { DeviceFlowSnapshot } from './machines/snapshot.js';

export { createInspectionSanitizer, createInspectorSanitizers, sanitizeInspectionEvent } from './core/inspection.js';

export { DeviceFlowError, isDeviceFlowError, MissingPackageError } from './core/errors.js';
export type { DeviceFlowErrorCode, DeviceFlowErrorData, OAuthErrorFields } from './core/errors.js';

export { parseDeviceAuthorizationResponse } from './core/protocol/deviceAuthorizationResponse.js';
export type { DeviceAuthorization } from './core/protocol/deviceAuthorizationResponse.js';
export { parsePollResponse, parseRefreshResponse } from './core/protocol/tokenResponse.js';
export type { PollOutcome, TokenRequestContext, TokenResponse } from './core/protocol/tokenResponse.js';
export { parseResponseBody } from './core/protocol/responseBody.js';
export { isAccessDenied, isSignInRequired } from './core/protocol/serverError.js';
export type { ResponseMembers } from './core/protocol/responseBody.js';
export type { ClientAuthenticationMethod, Stage } from './core/protocol/requests.js';
export { createPreciseClock } from './flow/clocks.js';
export type { Clock } from './flow/clocks.js';
