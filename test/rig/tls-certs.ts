/**
 * Throwaway PKI for TLS tests, made with the openssl CLI: a CA, a server certificate for 127.0.0.1 and
 * localhost, a client certificate, and a second ("rogue") CA with its own client certificate that the
 * first CA does not trust. EC P-256 keys (fast to make), PKCS#8 PEM (what Kafka's PEM key stores read).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Paths of the PEM files made by {@link makeTestPki}. */
export interface TestPki {
  readonly dir: string;
  /** CA certificate that signs server and client. */
  readonly caCert: string;
  /** Server certificate (SAN IP:127.0.0.1, DNS:localhost) and its key. */
  readonly serverCert: string;
  readonly serverKey: string;
  /** Server key followed by its certificate: a Kafka PEM key store (ssl.keystore.type=PEM). */
  readonly serverKeyStore: string;
  /** Client certificate (CN=ctflow-client) and key, signed by the CA. */
  readonly clientCert: string;
  readonly clientKey: string;
  /** A CA nobody trusts, and a client certificate it signed. */
  readonly rogueCaCert: string;
  readonly rogueClientCert: string;
  readonly rogueClientKey: string;
  /** Deletes the directory. */
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKey(dir: string, name: string): string {
  const path = join(dir, `${name}.key`);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path], dir);
  return path;
}

function selfSignedCa(dir: string, name: string): { cert: string; key: string } {
  const key = newKey(dir, name);
  const cert = join(dir, `${name}.pem`);
  openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      key,
      '-sha256',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      cert,
    ],
    dir,
  );
  return { cert, key };
}

function signed(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
  extensions: string,
): { cert: string; key: string } {
  const key = newKey(dir, name);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  const cert = join(dir, `${name}.pem`);
  writeFileSync(ext, extensions);
  openssl(['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', csr], dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-CAcreateserial',
      '-days',
      '2',
      '-sha256',
      '-extfile',
      ext,
      '-out',
      cert,
    ],
    dir,
  );
  return { cert, key };
}

/** Makes a fresh PKI in a temporary directory (about a dozen openssl runs). */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'ctflow-pki-'));
  const ca = selfSignedCa(dir, 'ctflow-test-ca');
  const server = signed(
    dir,
    'ctflow-server',
    ca,
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
  );
  const clientExt = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n';
  const client = signed(dir, 'ctflow-client', ca, clientExt);
  const rogueCa = selfSignedCa(dir, 'rogue-ca');
  const rogue = signed(dir, 'rogue-client', rogueCa, clientExt);
  const serverKeyStore = join(dir, 'server-keystore.pem');
  writeFileSync(serverKeyStore, readFileSync(server.key, 'utf8') + readFileSync(server.cert, 'utf8'));
  return {
    dir,
    caCert: ca.cert,
    serverCert: server.cert,
    serverKey: server.key,
    serverKeyStore,
    clientCert: client.cert,
    clientKey: client.key,
    rogueCaCert: rogueCa.cert,
    rogueClientCert: rogue.cert,
    rogueClientKey: rogue.key,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
