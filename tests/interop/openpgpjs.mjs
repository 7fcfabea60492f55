// OpenPGP.js 6 as a patient's app uses it: make a key, sign a consent, clearsign an
// attestation, decrypt a delivered document and verify the practice's signature.
//
// Driven by practice_client/testbed/implementations.py, one command per process:
//   node openpgpjs.mjs generate  --dir D --type T --structure S --uid U   -> {"fingerprint", "version"}
//   node openpgpjs.mjs sign      --dir D --in F [--notation NAME=HEX]...  -> armored detached signature
//   node openpgpjs.mjs clearsign --dir D --in F                           -> cleartext-signed message
//   node openpgpjs.mjs decrypt   --dir D --in F --out O --signer K.asc   -> {"filename", "signed"}
//   node openpgpjs.mjs encrypt   --dir D --in F --out O --recipient K.asc --filename N [--sign]
//                                                     -> binary message to O, encrypted to K (signed by D's key)
// D holds secret.asc and public.asc (the key is a test party's: unprotected, in a private folder).
// Errors: one line on stderr, exit 1.
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import * as openpgp from 'openpgp';

const DAY = 24 * 60 * 60;

// key type -> generateKey options (RFC 9580's v6 keys only with "v6")
const TYPES = {
  ed25519: { type: 'ecc', curve: 'ed25519Legacy' },
  rsa3072: { type: 'rsa', rsaBits: 3072 },
  rsa4096: { type: 'rsa', rsaBits: 4096 },
  p256: { type: 'ecc', curve: 'nistP256' },
  p384: { type: 'ecc', curve: 'nistP384' },
  v6: { type: 'curve25519', config: { v6Keys: true } },
  'rfc9580-v4': { type: 'curve25519' },
};

async function generate({ dir, type, structure, uid }) {
  const base = TYPES[type];
  if (!base) throw new Error(`unknown key type ${type}`);
  const { config = {}, ...algorithm } = base;
  const now = new Date();
  const options = { userIDs: [{ name: uid }], format: 'object', config, ...algorithm };
  if (structure === 'signing-subkey') {
    options.subkeys = [{ sign: true }, {}];
  } else if (structure === 'expired-revoked') {
    // created three days ago: a valid encryption subkey, one that expired after a day,
    // and one revoked below
    options.date = new Date(now.getTime() - 3 * DAY * 1000);
    options.subkeys = [{}, { keyExpirationTime: DAY }, {}];
  } else if (structure !== 'default') {
    throw new Error(`unknown key structure ${structure}`);
  }
  const { privateKey } = await openpgp.generateKey(options);
  if (structure === 'expired-revoked') {
    privateKey.subkeys[2] = await privateKey.subkeys[2].revoke(
      privateKey.keyPacket, { flag: openpgp.enums.reasonForRevocation.keySuperseded }, now, openpgp.config);
  }
  await writeFile(`${dir}/secret.asc`, privateKey.armor(), { mode: 0o600 });
  await writeFile(`${dir}/public.asc`, privateKey.toPublic().armor());
  return { fingerprint: privateKey.getFingerprint().toUpperCase(), version: privateKey.keyPacket.version };
}

async function secretKey(dir) {
  return openpgp.readPrivateKey({ armoredKey: await readFile(`${dir}/secret.asc`, 'utf8') });
}

function notations(values) {
  return (values || []).map((item) => {
    const [name, hex] = item.split('=', 2);
    return { name, value: Uint8Array.from(Buffer.from(hex, 'hex')), humanReadable: false, critical: false };
  });
}

async function sign({ dir, in: input, notation }) {
  const message = await openpgp.createMessage({ binary: await readFile(input) });
  return openpgp.sign({
    message, signingKeys: await secretKey(dir), detached: true, signatureNotations: notations(notation),
  });
}

async function clearsign({ dir, in: input }) {
  const message = await openpgp.createCleartextMessage({ text: await readFile(input, 'utf8') });
  return openpgp.sign({ message, signingKeys: await secretKey(dir) });
}

// "signed": every signature verifies with the signer's key (the only verification key,
// so a signature by any other key does not) and there is at least one
async function decrypt({ dir, in: input, out, signer }) {
  const verificationKeys = await openpgp.readKey({ armoredKey: await readFile(signer, 'utf8') });
  const message = await openpgp.readMessage({ binaryMessage: await readFile(input) });
  const result = await openpgp.decrypt({
    message, decryptionKeys: await secretKey(dir), verificationKeys, format: 'binary',
  });
  let signed = result.signatures.length > 0;
  for (const signature of result.signatures) {
    signed = (await signature.verified.catch(() => false)) === true && signed;
  }
  await writeFile(out, result.data, { mode: 0o600 });
  return { filename: result.filename, signed };
}

// what a patient's app uploads when the patient shares a document with the practice
async function encrypt({ dir, in: input, out, recipient, filename, sign }) {
  const encryptionKeys = await openpgp.readKey({ armoredKey: await readFile(recipient, 'utf8') });
  const message = await openpgp.createMessage({ binary: await readFile(input), filename });
  const options = { message, encryptionKeys, format: 'binary' };
  if (sign) options.signingKeys = await secretKey(dir);
  await writeFile(out, await openpgp.encrypt(options), { mode: 0o600 });
  return { written: out };
}

const COMMANDS = { generate, sign, clearsign, decrypt, encrypt };

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest,
    options: {
      dir: { type: 'string' }, type: { type: 'string' }, structure: { type: 'string', default: 'default' },
      uid: { type: 'string' }, in: { type: 'string' }, out: { type: 'string' }, signer: { type: 'string' },
      notation: { type: 'string', multiple: true }, recipient: { type: 'string' },
      filename: { type: 'string' }, sign: { type: 'boolean', default: false },
    },
  });
  const run = COMMANDS[command];
  if (!run) throw new Error(`unknown command ${command} (${Object.keys(COMMANDS).join(', ')})`);
  const result = await run(values);
  process.stdout.write(typeof result === 'string' ? result : `${JSON.stringify(result)}\n`);
}

main().catch((error) => {
  process.stderr.write(`openpgpjs: ${String(error && error.message ? error.message : error).split('\n')[0]}\n`);
  process.exit(1);
});
