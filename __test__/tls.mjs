// A throwaway CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI.
// The leaf is what rustls/webpki wants: X.509 v3, SAN (IP + DNS), CA:FALSE, serverAuth EKU,
// digitalSignature+keyEncipherment; the CA is CA:TRUE with keyCertSign.
import crypto from 'node:crypto'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

const CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = yc-iam-token test
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
`

// A positive serial of 16 random bytes (webpki rejects negative or over-long serials).
const serial = () => '0x' + (crypto.randomBytes(16)[0] & 0x3f).toString(16).padStart(2, '0') + crypto.randomBytes(15).toString('hex')

export function makeTestCA(dir) {
  fs.mkdirSync(dir, { recursive: true })
  const p = (name) => path.join(dir, name)
  const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OPENSSL_CONF: p('openssl.cnf') } })
  fs.writeFileSync(p('openssl.cnf'), CONFIG)

  openssl('req', '-x509', '-config', p('openssl.cnf'), '-newkey', 'rsa:2048', '-nodes', '-sha256',
    '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '1', '-subj', '/CN=yc-iam-token test CA',
    '-extensions', 'v3_ca', '-set_serial', serial())
  openssl('req', '-new', '-config', p('openssl.cnf'), '-newkey', 'rsa:2048', '-nodes', '-sha256',
    '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=127.0.0.1')
  openssl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'),
    '-set_serial', serial(), '-days', '1', '-sha256', '-extfile', p('openssl.cnf'), '-extensions', 'v3_leaf',
    '-out', p('server.pem'))

  return {
    caPath: p('ca.pem'),
    caPem: fs.readFileSync(p('ca.pem'), 'utf8'),
    key: fs.readFileSync(p('server.key'), 'utf8'),
    cert: fs.readFileSync(p('server.pem'), 'utf8'),
    keyPath: p('server.key'),
    certPath: p('server.pem'),
  }
}
