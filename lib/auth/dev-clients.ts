/** The development issuer's names the console, `npm run token` and the gateway agree on. */

/** The console's client: public, authorization code with PKCE, refresh tokens. */
export const CONSOLE_CLIENT_ID = "wheelhouse-console";
/** The client `npm run token`'s tokens name (`client_id`); it runs no flow of its own. */
export const TOKEN_CLIENT_ID = "wheelhouse-token";
/** The API as a resource server (RFC 8707): access tokens requested for it are JWTs the gateway takes. */
export const API_RESOURCE = "urn:wheelhouse:api";
/** The scope the API's access tokens carry. */
export const API_SCOPE = "api";
/** What the console asks for: an ID token with the person's name, a refresh token, the API. */
export const CONSOLE_SCOPE = `openid profile email offline_access ${API_SCOPE}`;
/** The console's redirect URI's path, on the gateway's origin. */
export const CONSOLE_REDIRECT_PATH = "/callback";
