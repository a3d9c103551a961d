// A device flow shown live in the Stately inspector, from Node.js: the relay listens on 127.0.0.1 only, and every
// event is sanitised before it leaves the flow. Run `npm run build` first, then `node examples/inspector/node.mjs`.
import { OAuth2DeviceAuthorizationFlow } from 'oauth2-device-flow';
import { startInspectorRelay } from 'oauth2-device-flow/node';
// The local authorization server of `npm start` (oidc-provider, in memory); any other server works the same way.
import { startDevServer } from 'oauth2-device-flow/dev-server';

const server = await startDevServer();
const relay = await startInspectorRelay();
console.log(`Inspector: open ${relay.url} in a browser (it embeds https://stately.ai/inspect).`);

const flow = new OAuth2DeviceAuthorizationFlow({
  authorizationUrl: server.deviceAuthorizationUrl,
  tokenUrl: server.tokenUrl,
  clientIdentifier: server.clients.public.clientIdentifier,
  requestedScopeTokens: ['openid', 'offline_access'],
  inspect: relay.inspect,
});
flow.on('authorizeWithUserCode', (verificationUrl, userCode, completeVerificationUrl) => {
  console.log(`Sign in: open ${completeVerificationUrl ?? verificationUrl} (code ${userCode}); any user name and password will do.`);
});

try {
  await new Promise((resolve, reject) => {
    flow.on('granted', resolve);
    flow.on('requestFailed', reject);
    flow.grant();
  });
  console.log(`Signed in; the token expires at ${flow.expirationAt?.toISOString()}.`);
} finally {
  flow.dispose();
  await relay.stop();
  await server.close();
}
