// A recording forward proxy for tests: CONNECT tunnels and absolute-URI HTTP requests,
// forwarded only to loopback (127.0.0.1 / localhost); anything else gets 403.
import http from 'node:http'
import net from 'node:net'

const LOOPBACK = new Set(['127.0.0.1', 'localhost'])
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'upgrade']

function dropHopByHop(headers) {
  const out = { ...headers }
  for (const h of HOP_BY_HOP) delete out[h]
  return out
}

export async function startProxy() {
  const requests = []
  const sockets = new Set()
  const track = (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); return s }

  const server = http.createServer((req, res) => {
    requests.push({ method: req.method, target: req.url, headers: req.headers, at: Date.now() })
    let target
    try { target = new URL(req.url) } catch {}
    if (!target || target.protocol !== 'http:') return res.writeHead(400).end('proxy: absolute http:// URI required\n')
    if (!LOOPBACK.has(target.hostname)) return res.writeHead(403).end('proxy: only loopback targets are allowed\n')
    const up = http.request({
      host: '127.0.0.1', port: Number(target.port || 80), method: req.method,
      path: target.pathname + target.search, headers: dropHopByHop(req.headers), agent: false,
    }, (upRes) => {
      res.writeHead(upRes.statusCode, dropHopByHop(upRes.headers))
      upRes.pipe(res)
    })
    up.on('socket', track)
    up.on('error', () => { if (!res.headersSent) res.writeHead(502).end('proxy: bad gateway\n'); else res.destroy() })
    res.on('close', () => up.destroy())
    req.pipe(up)
  })
  server.on('connection', track)
  server.on('connect', (req, client, head) => {
    requests.push({ method: 'CONNECT', target: req.url, headers: req.headers, at: Date.now() })
    client.on('error', () => {})
    const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(req.url)
    if (!m || !LOOPBACK.has(m[1])) return client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n')
    const up = track(net.connect(Number(m[2]), '127.0.0.1'))
    let connected = false
    up.on('connect', () => {
      connected = true
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      if (head.length) up.write(head)
      up.pipe(client)
      client.pipe(up)
    })
    up.on('error', () => {
      if (connected) client.destroy()
      else client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n')
    })
    up.on('close', () => { if (connected) client.destroy() })
    client.on('close', () => up.destroy())
  })

  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    reset() { requests.length = 0 },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
