// Type test (tsc --noEmit): the public API used the way handlers and services use it.
// The @ts-expect-error lines are checks too: tsc fails if they stop being errors.
import {
  createJwt,
  getToken,
  tokenFromContext,
  tokenFromFederation,
  tokenFromKey,
  tokenFromMetadata,
  tokenProvider,
  type TokenProvider,
  type AuthorizedKeyFile,
  type IamToken,
  type IamTokenError,
  type KeyInput,
  type TokenSource,
} from '../index.js'

// What a Yandex Cloud Functions handler receives (as @yandex-cloud/function-types describes it).
interface CloudFunctionsContext {
  requestId: string
  functionName: string
  functionVersion: string
  memoryLimitInMB: number
  token?: { access_token: string; expires_in: number; token_type: string }
  getPayload(): unknown
}

export const handler = async (_event: unknown, context: CloudFunctionsContext) => {
  const token: IamToken = await tokenFromContext(context)
  const header: string = `Bearer ${token.accessToken}`
  const when: Date = token.expiresAt
  const kind: 'Bearer' = token.tokenType
  return { statusCode: 200, body: JSON.stringify({ header, when, kind }) }
}

export async function onVm(): Promise<string> {
  const controller = new AbortController()
  const { accessToken } = await tokenFromMetadata({ timeoutMs: 1000, retries: 1, signal: controller.signal })
  return accessToken
}

export async function withKey(file: AuthorizedKeyFile, path: string, bytes: Buffer): Promise<IamToken[]> {
  const inputs: KeyInput[] = [
    file,
    path,
    bytes,
    JSON.stringify(file),
    { keyId: 'aje1', serviceAccountId: 'aje2', privateKey: '...' },
    { key: { id: 'aje1', serviceAccountId: 'aje2' }, privateKey: '...' },
  ]
  const jwt: string = createJwt(file, { audience: 'https://iam.api.yandexcloud.kz/iam/v1/tokens', lifetimeSec: 600 })
  void jwt
  return Promise.all(inputs.map((key) => tokenFromKey(key, { endpoint: 'https://iam.api.cloud.yandex.net/iam/v1/tokens', cache: false })))
}

export function describe(error: unknown): string {
  const e = error as IamTokenError
  switch (e.code) {
    case 'ERR_NO_SERVICE_ACCOUNT':
    case 'ERR_TIMEOUT':
      return e.message
    default:
      return `${e.code} ${e.status ?? ''}`
  }
}

// @ts-expect-error: the key is required
void tokenFromKey()
// @ts-expect-error: a number is no key
void tokenFromKey(42)
// @ts-expect-error: timeoutMs is a number
void tokenFromMetadata({ timeoutMs: '100' })
// @ts-expect-error: a context's token has access_token
void tokenFromContext({ token: { expires_in: 1 } })

export async function anywhere(context?: CloudFunctionsContext): Promise<string> {
  const token = await getToken({ context, key: process.env.KEY_PATH, timeoutMs: 5000 })
  if (token.expiresAt === null) {
    const from: 'YC_IAM_TOKEN' | 'YC_TOKEN' | 'profile' | 'yc' = token.source
    return `${from}: expiry unknown`
  }
  return `${token.source} until ${token.expiresAt.toISOString()}`
}

export async function provider(): Promise<string> {
  const p: TokenProvider = tokenProvider({ timeoutMs: 1000 })
  const token: string = await p.getToken(true, AbortSignal.timeout(1000))
  // @ts-expect-error: force is a boolean
  void p.getToken('yes')
  return token
}

// Keyless CI: GitHub Actions (nothing to pass), a Kubernetes projected token, GitLab's id_tokens.
export async function keyless(): Promise<IamToken[]> {
  const controller = new AbortController()
  return Promise.all([
    tokenFromFederation(),
    tokenFromFederation({ serviceAccountId: 'aje1', audience: 'https://github.com/acme', signal: controller.signal }),
    tokenFromFederation({ serviceAccountId: 'aje1', subjectTokenFile: '/var/run/secrets/tokens/yc-token', timeoutMs: 5000 }),
    tokenFromFederation({ serviceAccountId: 'aje1', subjectToken: process.env.YC_ID_TOKEN, endpoint: 'https://auth.yandex.cloud/oauth/token', retries: 2 }),
  ])
}

export async function sources(): Promise<TokenSource> {
  const token = await getToken({ federationEndpoint: 'https://auth.yandex.cloud/oauth/token' })
  const keyless: TokenSource[] = ['federation', 'profile', 'yc']
  return keyless.includes(token.source) ? token.source : 'metadata'
}

// @ts-expect-error: a subject token file is a path, not a number
void tokenFromFederation({ subjectTokenFile: 42 })
// @ts-expect-error: getToken's sources are a closed set
export const notASource: TokenSource = 'oauth'
