// node-postgres (npm pg, pinned by node/package-lock.json) through a patroxy listener with
// tls: terminate, client_tls require and server_tls verify-full: direct TLS (sslnegotiation
// 'direct', pg's own option since 8.23: the TLS handshake first, ALPN "postgresql") verified
// against the test CA, parameterized queries, the driver's own cancel, and the 57P01 of a kill
// read as the idle client's 'error' event. Run by node_pg_test.sh with the environment of
// lib.sh; prints one line per check and exits 1 at the first failure.
'use strict'

const fs = require('fs')
const http = require('http')
const pg = require('pg')

const start = process.hrtime.bigint()
const elapsed = () => Number(process.hrtime.bigint() - start) / 1e9
const ok = (what) => console.log(`[${elapsed().toFixed(3).padStart(6)} s] ok   ${what}`)
const check = (condition, what) => {
  if (!condition) throw new Error(`check failed: ${what}`)
  ok(what)
}
const env = (name) => {
  const value = process.env[name]
  if (!value) throw new Error(`missing environment variable ${name}`)
  return value
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
/** Rejects after `ms` with `what`, so no wait of this test is unbounded. */
const within = (ms, what, promise) => {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

const port = Number(env('LISTENER_PORT'))
const ca = fs.readFileSync(env('CA_CERT'))

/** Direct TLS verified against the test CA (rejectUnauthorized: verify-full's checks, 127.0.0.1 in the SAN). */
const config = {
  host: '127.0.0.1',
  port,
  database: 'postgres',
  user: env('DRIVER_USER'),
  password: env('DRIVER_PASSWORD'),
  ssl: { ca, rejectUnauthorized: true },
  sslnegotiation: 'direct',
  application_name: 'patroxy drivers.node_pg',
  connectionTimeoutMillis: 10000,
}

async function connected(cfg) {
  const client = new pg.Client(cfg)
  await client.connect()
  return client
}

async function value(client, text, values) {
  const r = await client.query(text, values)
  return r.rows[0][Object.keys(r.rows[0])[0]]
}

async function negotiation() {
  const client = await connected(config)
  const socket = client.connection.stream
  check(socket.encrypted === true && socket.alpnProtocol === 'postgresql',
    `sslnegotiation=direct: TLS (${socket.getProtocol()}) from the first byte, ALPN "${socket.alpnProtocol}"`)
  check(socket.authorized === true, 'patroxy\'s certificate verified against the test CA')
  check((await value(client, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')) === true,
    'the server leg is TLS too (pg_stat_ssl), the SCRAM password went through')
  await client.end()

  // The same from a connection string, as an application's DATABASE_URL would say it.
  const url = `postgresql://${config.user}:${encodeURIComponent(config.password)}@127.0.0.1:${port}/postgres` +
    `?sslmode=verify-full&sslnegotiation=direct&sslrootcert=${encodeURIComponent(env('CA_CERT'))}`
  const fromUrl = await connected({ connectionString: url, connectionTimeoutMillis: 10000 })
  check(fromUrl.connection.stream.alpnProtocol === 'postgresql' &&
    (await value(fromUrl, "SELECT 'url'")) === 'url', 'the same from a URL: sslmode=verify-full&sslnegotiation=direct')
  await fromUrl.end()

  // A CA that signed nothing here: refused by node's TLS verification.
  const other = new pg.Client({ ...config, ssl: { ca: fs.readFileSync(env('OTHER_CA_CERT')) } })
  let refused = null
  try {
    await other.connect()
  } catch (e) {
    refused = e
  }
  check(refused !== null && /certificate/i.test(refused.message), `another CA is refused: ${refused && refused.message}`)
}

async function queries(client) {
  check((await value(client, 'SELECT $1::int + $2::int AS sum', [40, 2])) === 42, 'parameters bound: $1 + $2 = 42')
  check((await value(client, "SELECT $1::text || '!' AS s", ['über'])) === 'über!', 'a text parameter in UTF-8')
  const rows = 5000
  for (let run = 1; run <= 3; ++run) {
    // A named statement: parsed once on the server, then only Bind/Execute.
    const r = await client.query({ name: 'series', text: 'SELECT g, md5(g::text) AS h FROM generate_series(1, $1) AS g', values: [rows] })
    const sum = r.rows.reduce((s, row) => s + row.g, 0)
    if (r.rows.length !== rows || sum !== rows * (rows + 1) / 2 || r.rows.some((row) => row.h.length !== 32))
      throw new Error(`run ${run}: ${r.rows.length} rows, sum ${sum}`)
  }
  ok(`3 runs of a ${rows}-row parameterized SELECT as a named prepared statement`)
  await client.query('BEGIN')
  await client.query('CREATE TEMP TABLE driver_rows (id int PRIMARY KEY, label text)')
  for (let i = 1; i <= 500; ++i) await client.query('INSERT INTO driver_rows VALUES ($1, $2)', [i, `row ${i}`])
  await client.query('COMMIT')
  check((await value(client, "SELECT count(*) || ' ' || sum(id) AS c FROM driver_rows")) === '500 125250',
    'a transaction of 500 parameterized INSERTs committed')
  check((await value(client, "SELECT repeat('y', 2000000) AS big")).length === 2000000, 'a 2 MB value')
}

/** Waits (at most 5 s) until `text` runs on the server, seen from a second session. */
async function running(text) {
  const watcher = await connected(config)
  try {
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(20)) {
      const r = await watcher.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query = $1", [text])
      if (r.rows[0].n === 1) return
    }
    throw new Error(`${text} is not running after 5 s`)
  } finally {
    await watcher.end()
  }
}

/**
 * The driver's cancel: `new pg.Client(config).cancel(client, query)` connects to the same host and
 * port and writes a CancelRequest with the key patroxy handed out. pg writes it the moment the TCP
 * connection is up, before any TLS: the CancelRequest is plaintext, as libpq 15's and pgJDBC's;
 * with the client's own config (ssl, sslnegotiation 'direct') pg then begins a TLS handshake on
 * that socket, which the listener, done with the cancel, ends.
 */
async function cancel(client) {
  const query = new pg.Query('SELECT pg_sleep(30)')
  const outcome = new Promise((resolve) => {
    query.on('error', resolve)
    query.on('end', () => resolve(null))
  })
  client.query(query)
  await running(query.text)
  const canceller = new pg.Client(config)
  const cancelErrors = []
  canceller.connection.on('error', (e) => cancelErrors.push(e.code || e.message)) // the listener's close after the cancel
  const sent = process.hrtime.bigint()
  canceller.cancel(client, query)
  const error = await within(2000, 'the cancelled query', outcome)
  const took = Number(process.hrtime.bigint() - sent) / 1e9
  check(error !== null && error.code === '57014',
    `pg's cancel of pg_sleep(30): SQLSTATE ${error && error.code} after ${took.toFixed(3)} s (${error && error.message})`)
  check((await value(client, 'SELECT 1 + 1 AS two')) === 2, 'the client goes on after the cancel')
  await sleep(100)
  console.log(`        (the cancel connection saw: ${cancelErrors.length ? cancelErrors.join(', ') : 'a plain close'})`)
  canceller.connection.stream.destroy()
  const { body } = await stats('GET', '/metrics')
  check(body.includes('patroxy_cancel_requests_total{result="forwarded"} 1'),
    'patroxy forwarded the cancel by its key (/metrics: forwarded 1)')
}

/** A request to the stats listener with its basic auth: { status, body }. */
function stats(method, path, form) {
  return new Promise((resolve, reject) => {
    const headers = form === undefined ? {}
      : { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(form) }
    const req = http.request({
      host: '127.0.0.1',
      port: Number(env('STATS_PORT')),
      path,
      method,
      auth: `admin:${env('STATS_PASSWORD')}`,
      headers,
      timeout: 5000,
    }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode, body }))
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)))
    req.on('error', reject)
    req.end(form)
  })
}

/**
 * The kill: pg1 marked maint on the listener; the idle client gets FATAL 57P01 as its 'error'
 * event. pg then emits a second 'error' when the socket closes ("Connection terminated
 * unexpectedly"), and 'end'; an application keeps its 'error' listener for both.
 */
async function kill(client) {
  const errors = []
  let firstError
  const first = new Promise((resolve) => { firstError = resolve })
  client.on('error', (e) => {
    errors.push(e)
    firstError(e)
  })
  const ended = new Promise((resolve) => client.once('end', resolve))
  const { status } = await stats('POST', '/admin', 'listener=tls&member=pg1&state=maint')
  check(status === 303, `POST /admin listener=tls member=pg1 state=maint: ${status}`)
  const error = await within(5000, 'the idle client\'s error event', first)
  check(error.code === '57P01' && error.severity === 'FATAL' && /pg1/.test(error.message),
    `the idle client's 'error' event: ${error.severity} ${error.code} ${error.message}`)
  await within(5000, 'the client\'s end event', ended)
  ok(`then 'end': patroxy closed the session (errors seen: ${errors.map((e) => e.code || e.message).join(', ')})`)
}

async function main() {
  console.log(`node-postgres ${require('pg/package.json').version} on Node.js ${process.version}`)
  await negotiation()
  const client = await connected(config)
  await queries(client)
  await cancel(client)
  await kill(client)
  console.log('drivers.node_pg: all checks passed')
}

main().then(
  () => process.exit(0),
  (e) => {
    console.log(`[${elapsed().toFixed(3).padStart(6)} s] FAIL ${e.stack || e}`)
    process.exit(1)
  }
)
