// The official tus server (@tus/server + @tus/file-store, default settings) as the
// platform's /v1/uploads, for the client's interoperability tests.
//
// One HTTPS listener on loopback (the testbed CA's certificate), the testbed's bearer
// token checked in front of everything, /v1/uploads served by @tus/server, every other
// path proxied to the testbed platform (the rest of the API as it serves it). The
// platform's part is the finish hook: each finished upload is recorded in
// FINISHES/<document id>.<part>.<upload id>, and once both parts of a document are
// finished they are filed into the testbed's DOCUMENTS folder (hard links: no second
// copy of the bytes), where the testbed serves them to the patient's app.
//
// usage: node server.mjs CONFIG.json   (prints {"port": N} once listening)
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { EVENTS, Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const token = fs.readFileSync(config.token_file, 'utf8').trim();
const upstream = new URL(config.upstream);
const upstreamCa = fs.readFileSync(config.ca_file);
const PARTS = { document: '.pgp', manifest: '.manifest.pgp' };
const ID = /^[A-Za-z0-9-]{8,64}$/;
const unfiled = new Map(); // "<document id>.<part>" -> upload id, finished but not filed yet

function file(documentId, requestId) {
  const sizes = {};
  for (const part of Object.keys(PARTS)) {
    const id = unfiled.get(`${documentId}.${part}`);
    const target = path.join(config.documents, documentId + PARTS[part]);
    fs.rmSync(target, { force: true });
    fs.linkSync(path.join(config.store, id), target);
    sizes[part] = fs.statSync(target).size;
    unfiled.delete(`${documentId}.${part}`);
  }
  const record = JSON.stringify({ document_id: documentId, request_id: requestId, sizes });
  fs.writeFileSync(path.join(config.documents, `${documentId}.json.tmp`), record);
  fs.renameSync(path.join(config.documents, `${documentId}.json.tmp`), path.join(config.documents, `${documentId}.json`));
}

const tus = new Server({
  path: '/v1/uploads',
  datastore: new FileStore({ directory: config.store }),
  respectForwardedHeaders: true, // the TLS front below sets X-Forwarded-Proto, as a reverse proxy would
  async onUploadFinish(req, upload) {
    const { document_id: documentId, part, request_id: requestId } = upload.metadata ?? {};
    if (!ID.test(documentId ?? '') || !(part in PARTS) || !ID.test(requestId ?? '')) {
      throw { status_code: 400, body: 'metadata document_id, part, request_id required\n' };
    }
    fs.writeFileSync(path.join(config.finishes, `${documentId}.${part}.${upload.id}`), '');
    unfiled.set(`${documentId}.${part}`, upload.id);
    if (Object.keys(PARTS).every((p) => unfiled.has(`${documentId}.${p}`))) file(documentId, requestId);
    return {};
  },
});
tus.on(EVENTS.POST_TERMINATE, (req, res, id) => {
  for (const [key, value] of unfiled) if (value === id) unfiled.delete(key);
});

function authorized(req) {
  const [scheme, presented] = (req.headers.authorization ?? '').split(' ');
  return scheme?.toLowerCase() === 'bearer' && presented === token;
}

function proxy(req, res) {
  const forwarded = https.request({
    host: upstream.hostname, port: upstream.port, path: req.url, method: req.method,
    headers: { ...req.headers, host: upstream.host }, ca: upstreamCa,
  }, (answer) => {
    res.writeHead(answer.statusCode, answer.headers);
    answer.pipe(res);
  });
  forwarded.on('error', () => { res.writeHead(502); res.end(); });
  req.pipe(forwarded);
}

const server = https.createServer({
  cert: fs.readFileSync(config.cert_file), key: fs.readFileSync(config.key_file), minVersion: 'TLSv1.2',
}, (req, res) => {
  if (!authorized(req)) {
    res.writeHead(401, { 'WWW-Authenticate': 'Bearer realm="platform"' });
    res.end();
  } else if (req.url === '/v1/uploads' || req.url.startsWith('/v1/uploads/')) {
    req.headers['x-forwarded-proto'] = 'https';
    req.rawHeaders.push('X-Forwarded-Proto', 'https');
    tus.handle(req, res);
  } else {
    proxy(req, res);
  }
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
