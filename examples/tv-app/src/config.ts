/**
 * Where the TV app signs in, from its page's query string: `?authorizationUrl=…&tokenUrl=…&clientId=…` (the serve
 * script and the browser test fill them in), and `&inspect` to open the Stately inspector.
 */
export interface TvConfig {
  authorizationUrl: string;
  tokenUrl: string;
  clientIdentifier: string;
  inspect: boolean;
}

export function readConfig(search: string): TvConfig | null {
  const query = new URLSearchParams(search);
  const authorizationUrl = query.get('authorizationUrl');
  const tokenUrl = query.get('tokenUrl');
  const clientIdentifier = query.get('clientId');
  if (!authorizationUrl || !tokenUrl || !clientIdentifier) return null;
  return { authorizationUrl, tokenUrl, clientIdentifier, inspect: query.has('inspect') };
}
