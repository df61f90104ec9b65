/// <reference types="node" />

/** A Yandex Cloud IAM token. */
export interface IamToken {
  /** The token: send it as `Authorization: Bearer <accessToken>`. */
  accessToken: string
  /** When the token stops working. */
  expiresAt: Date
  tokenType: 'Bearer'
}

/** The authorized key JSON, as `yc iam key create` writes it (`public_key` and other fields
 *  are not required). */
export interface AuthorizedKeyFile {
  id: string
  service_account_id: string
  private_key: string
  [other: string]: unknown
}

/** camelCase, as the Yandex Node.js SDK names the fields (`id`, `keyId` or `accessKeyId`). */
export interface AuthorizedKeyCamel {
  id?: string
  keyId?: string
  accessKeyId?: string
  serviceAccountId: string
  privateKey: string
}

/** The REST `KeyService.Create` answer. */
export interface CreateKeyResponse {
  key: { id: string; serviceAccountId: string; [other: string]: unknown }
  privateKey: string
}

export type AuthorizedKey = AuthorizedKeyFile | AuthorizedKeyCamel | CreateKeyResponse

/** An object; a string whose first non-blank character is `{` is the JSON text;
 *  any other string is a path to the key file; a Buffer is the file's bytes. */
export type KeyInput = AuthorizedKey | string | Buffer

export interface CallOptions {
  /** Deadline for the whole call, retries included: a positive finite number of milliseconds.
   *  Default 10 000 for tokenFromKey, 3 000 for tokenFromMetadata. */
  timeoutMs?: number
  /** Retries after the first attempt, for retryable failures only: an integer 0..10.
   *  Default 3 for tokenFromKey, 2 for tokenFromMetadata. */
  retries?: number
  /** Use and fill the per-process token cache (default true). */
  cache?: boolean
  /** Abort the call: it rejects at once with an `AbortError` (`code` `ABORT_ERR`), as `fetch` does. */
  signal?: AbortSignal
}

export interface KeyOptions extends CallOptions {
  /** IAM token endpoint; default https://iam.api.cloud.yandex.net/iam/v1/tokens */
  endpoint?: string
  /** JWT `aud`; default: the endpoint URL. */
  audience?: string
}

export interface MetadataOptions extends CallOptions {
  /** default http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token;
   *  where the env var YC_METADATA_ADDR (host[:port], as the Go and Python SDKs read it) is set,
   *  that host is used instead. */
  endpoint?: string
}

/** Any object with the Cloud Functions context's `token` field. */
export interface FunctionContext {
  token?: { access_token: string; expires_in: number; token_type?: string }
}

export interface JwtOptions {
  /** JWT `aud`; default https://iam.api.cloud.yandex.net/iam/v1/tokens */
  audience?: string
  /** An integer 1..3600, default 3600. */
  lifetimeSec?: number
}

/** The `code` of every error this package rejects or throws with. */
export type ErrorCode =
  | 'ERR_INVALID_ARG'
  | 'ERR_INVALID_KEY'
  | 'ERR_NO_SERVICE_ACCOUNT'
  | 'ERR_IAM_REJECTED'
  | 'ERR_UNAVAILABLE'
  | 'ERR_TIMEOUT'
  | 'ABORT_ERR'
  | 'ERR_INVALID_RESPONSE'
  /** A bug in this package (a caught panic): please report it. */
  | 'ERR_INTERNAL'

/** What every failure is: an `Error` with a stable `code`, and the HTTP `status` where an
 *  answer caused it. */
export interface IamTokenError extends Error {
  code: ErrorCode
  status?: number
}

/** Exchanges a service account's authorized key for an IAM token (cached per process). */
export function tokenFromKey(key: KeyInput, options?: KeyOptions): Promise<IamToken>
/** Gets the token of the VM's or function's service account from the metadata service
 *  (cached per process). */
export function tokenFromMetadata(options?: MetadataOptions): Promise<IamToken>
/** Reads the token Yandex Cloud Functions passes a handler in `context.token`. */
export function tokenFromContext(context: FunctionContext): Promise<IamToken>
/** The signed PS256 JWT alone, for callers who exchange it themselves (e.g. over gRPC). */
export function createJwt(key: KeyInput, options?: JwtOptions): string

export interface FederationOptions extends CallOptions {
  /** The service account to get a token for (the exchange's `audience`); default
   *  YC_SERVICE_ACCOUNT_ID. */
  serviceAccountId?: string
  /** The workload's OIDC token (a JWT); default YC_ID_TOKEN. */
  subjectToken?: string
  /** A file holding it, read again at every refresh (Kubernetes rotates projected tokens);
   *  default YC_ID_TOKEN_FILE. */
  subjectTokenFile?: string
  /** GitHub Actions only: the `audience` of the job's OIDC token; default GitHub's own. */
  audience?: string
  /** The token-exchange endpoint; default https://auth.yandex.cloud/oauth/token */
  endpoint?: string
}

/** Exchanges a workload's OIDC token for a service account's IAM token (workload identity
 *  federation: GitHub Actions, GitLab CI, Kubernetes), cached per (endpoint, service account,
 *  subject source: the file path or the token text). The subject token is `subjectToken`, else
 *  `subjectTokenFile`, else YC_ID_TOKEN, else YC_ID_TOKEN_FILE, else GitHub Actions' job token
 *  (ACTIONS_ID_TOKEN_REQUEST_URL + ACTIONS_ID_TOKEN_REQUEST_TOKEN, set with `permissions:
 *  id-token: write`); with none of them it rejects with `ERR_INVALID_ARG`. Default timeoutMs
 *  10 000, retries 3. */
export function tokenFromFederation(options?: FederationOptions): Promise<IamToken>

export interface GetTokenOptions extends KeyOptions {
  /** A Cloud Functions handler's context: used first, when it has a token. */
  context?: FunctionContext
  /** An authorized key: used next (else YC_SERVICE_ACCOUNT_KEY_FILE, else YC_SERVICE_ACCOUNT_KEY). */
  key?: KeyInput
  /** The metadata service's endpoint, for the last source (`endpoint` is IAM's). */
  metadataEndpoint?: string
  /** The token-exchange endpoint, for federation (default https://auth.yandex.cloud/oauth/token). */
  federationEndpoint?: string
}

/** Where a token came from: `yc` when `yc iam create-token` printed it (a federated user's or
 *  an impersonating profile), `profile` for the other kinds of `yc` profile. */
export type TokenSource =
  | 'context'
  | 'key'
  | 'YC_SERVICE_ACCOUNT_KEY_FILE'
  | 'YC_SERVICE_ACCOUNT_KEY'
  | 'federation'
  | 'YC_IAM_TOKEN'
  | 'YC_TOKEN'
  | 'profile'
  | 'yc'
  | 'metadata'

/** A token from `getToken`: an `IamToken` and its source, or a token whose expiry is not known
 *  (`expiresAt: null`): an IAM token taken as it is from YC_IAM_TOKEN / YC_TOKEN or a `yc`
 *  profile, or what `yc iam create-token` printed. */
export type SourcedToken =
  | (IamToken & { source: TokenSource })
  | { accessToken: string; expiresAt: null; tokenType: 'Bearer'; source: 'YC_IAM_TOKEN' | 'YC_TOKEN' | 'profile' | 'yc' }

/** A token from the first source that applies here, in this order: `options.context` with a
 *  token; `options.key`, YC_SERVICE_ACCOUNT_KEY_FILE (a path) or YC_SERVICE_ACCOUNT_KEY (the
 *  key JSON); workload identity federation, when YC_SERVICE_ACCOUNT_ID is set with YC_ID_TOKEN,
 *  YC_ID_TOKEN_FILE or GitHub Actions' ACTIONS_ID_TOKEN_REQUEST_URL + _TOKEN; YC_IAM_TOKEN,
 *  else YC_TOKEN (an IAM token as it is, an OAuth token exchanged at IAM); the `yc` CLI's
 *  profile (YC_PROFILE's, else the config's current one: a key, an OAuth token, or for a
 *  federated user `yc iam create-token` when `yc` is on PATH); the metadata service. When none
 *  applies it rejects with `ERR_NO_SERVICE_ACCOUNT`, listing each source and why it did not. */
export function getToken(options?: GetTokenOptions): Promise<SourcedToken>

/** What SDKs that ask for a token on every call take (@ydbjs's CredentialsProvider.getToken,
 *  the Yandex Cloud SDK's TokenService shape). */
export interface TokenProvider {
  /** The access token of `getToken(options)`; `force` (the server refused the last token) asks
   *  past the cache; `signal` aborts the call. */
  getToken(force?: boolean, signal?: AbortSignal): Promise<string>
}
/** A token provider over `getToken(options)`. */
export function tokenProvider(options?: GetTokenOptions): TokenProvider

/** diagnostics_channel `yc-iam-token:token`: a native call answered a token. */
export interface TokenEvent {
  source: string
  /** 'fetched' (by this call or the refresh it waited for), 'cache', 'stale' (old, while a
   *  refresh runs) or 'fallback' (the old token while the token service is down). */
  origin: 'fetched' | 'cache' | 'stale' | 'fallback'
  durationMs: number
}
/** diagnostics_channel `yc-iam-token:error`: a native call failed. */
export interface ErrorEvent {
  source: string
  code: string
  status?: number
  durationMs: number
}
