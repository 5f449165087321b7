#!/usr/bin/env node
// A tiny persistent verifier in another language, speaking hsmsim's JSON Lines protocol on stdin/stdout.
//   {"op":"hello"}                         -> {"name","version","formats","features"}
//   {"op":"verify","id","format","profile","inputs":{"files":{rel:path},"anchor":path,"time":ISO,...}}
//                                          -> {"id","verdict":"ACCEPT"|"REJECT","reason":CODE,"detail"}
// It checks the Primus chain (names, signatures, dates) and the XML signature with the certificate's key, and
// NOTHING else (no CSR binding, no attributes): the conformance report shows exactly that. Node >= 16, no packages.
'use strict';
const crypto = require('crypto'), fs = require('fs'), readline = require('readline'), zlib = require('zlib');

class Reject extends Error { constructor(reason, detail) { super(detail); this.reason = reason; } }

function unzip(buf) {                               // just enough of the zip format for a TSB bundle
  const eocd = buf.lastIndexOf(Buffer.from('PK\x05\x06', 'latin1'));
  if (eocd < 0) throw new Reject('MALFORMED', 'not a zip archive');
  const members = {};
  for (let i = 0, p = buf.readUInt32LE(eocd + 16); i < buf.readUInt16LE(eocd + 10); i++) {
    const size = buf.readUInt32LE(p + 24), nameLen = buf.readUInt16LE(p + 28), local = buf.readUInt32LE(p + 42);
    if (size > 16 << 20) throw new Reject('LIMIT_EXCEEDED', 'zip member larger than 16 MiB');
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(start, start + buf.readUInt32LE(p + 20));
    members[buf.toString('utf8', p + 46, p + 46 + nameLen)] =
      buf.readUInt16LE(p + 10) === 0 ? data : zlib.inflateRawSync(data, { maxOutputLength: 16 << 20 });
    p += 46 + nameLen + buf.readUInt16LE(p + 30) + buf.readUInt16LE(p + 32);
  }
  return members;
}

const certs = (pem) => (pem.toString().match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) || [])
  .map((block) => new crypto.X509Certificate(block));

function verify(inputs) {
  const members = {};
  for (const [rel, path] of Object.entries(inputs.files)) {
    Object.assign(members, rel.endsWith('.zip') ? unzip(fs.readFileSync(path)) : { [rel]: fs.readFileSync(path) });
  }
  const xmlName = Object.keys(members).find((n) => n.endsWith('.xml'));
  const chainPem = members['PrimusHSM_Attestation.crt'];
  if (!xmlName || !chainPem) throw new Reject('MISSING_INPUT', 'no .xml or no PrimusHSM_Attestation.crt');
  const sig = members[xmlName.replace(/\.xml$/, '.sig')];
  if (!sig) throw new Reject('MISSING_INPUT', 'no .sig');
  const chain = certs(chainPem), anchors = certs(fs.readFileSync(inputs.anchor)), at = new Date(inputs.time);
  for (let cert = chain[0]; ;) {
    if (at < new Date(cert.validFrom)) throw new Reject('CERT_NOT_YET_VALID', cert.subject);
    if (at > new Date(cert.validTo)) throw new Reject('CERT_EXPIRED', cert.subject);
    const anchor = anchors.find((a) => cert.checkIssued(a) && cert.verify(a.publicKey));
    if (anchor) break;
    const issuer = chain.find((c) => c !== cert && cert.checkIssued(c));
    if (!issuer || issuer.raw.equals(cert.raw)) throw new Reject('CHAIN_UNTRUSTED', 'no path to the trust anchor');
    if (!cert.verify(issuer.publicKey)) throw new Reject('CERT_SIGNATURE_INVALID', cert.subject);
    cert = issuer;
  }
  if (!crypto.verify('sha256', members[xmlName], chain[0].publicKey, sig)) {
    throw new Reject('SIGNATURE_INVALID', 'XML signature does not verify with the attestation certificate');
  }
  return 'chain and signature verified (CSR binding and attributes NOT checked)';
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const request = JSON.parse(line);
  let reply;
  if (request.op === 'hello') {
    reply = { name: 'tiny-persistent', version: '0.1', formats: ['primus'], features: [] };
  } else {
    try {
      reply = { id: request.id, verdict: 'ACCEPT', reason: 'OK', detail: verify(request.inputs) };
    } catch (err) {
      reply = err instanceof Reject ? { id: request.id, verdict: 'REJECT', reason: err.reason, detail: err.message }
        : { id: request.id, verdict: 'ERROR', detail: String(err) };
    }
  }
  process.stdout.write(JSON.stringify(reply) + '\n');
});
