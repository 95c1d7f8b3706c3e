/**
 * What a failed connection to Kafka means for the operator: a refused SASL login or a TLS problem is
 * named as such, with the settings to check, instead of only the client library's wording.
 */

/** Kinds of security failure told apart. */
export type KafkaSecurityProblem = 'sasl' | 'untrusted-broker' | 'broker-name' | 'client-certificate';

const HINTS: Record<KafkaSecurityProblem, string> = {
  sasl: 'SASL authentication refused: check kafka.sasl.mechanism, kafka.sasl.username and the password',
  'untrusted-broker': "TLS: the broker's certificate is not trusted: check kafka.ssl.ca",
  'broker-name': "TLS: the broker's certificate does not name the broker address: check kafka.brokers",
  'client-certificate':
    'TLS: the broker refused our client certificate: check kafka.ssl.cert and kafka.ssl.key (signed by a CA the broker trusts)',
};

/** Every message of an error and its causes (kafkajs nests the socket error as `originalError`). */
function messages(err: unknown): string {
  const out: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 5; depth++) {
    out.push(`${e.name} ${e.message} ${(e as NodeJS.ErrnoException).code ?? ''}`);
    e = (e as { originalError?: unknown }).originalError ?? e.cause;
  }
  return out.join(' | ');
}

/** The security problem behind a Kafka client error, if it is one. */
export function kafkaSecurityProblem(err: unknown): KafkaSecurityProblem | undefined {
  const text = messages(err);
  if (/SASLAuthentication|SASL .* authentication failed|SaslAuthenticationException/i.test(text))
    return 'sasl';
  if (/altnames|ERR_TLS_CERT_ALTNAME/i.test(text)) return 'broker-name';
  if (
    /alert (bad certificate|certificate unknown|certificate required|unknown ca)|alert handshake failure/i.test(
      text,
    )
  )
    return 'client-certificate';
  if (
    /unable to verify|self[- ]signed certificate|UNABLE_TO_GET_ISSUER|certificate has expired|CERT_/i.test(
      text,
    )
  )
    return 'untrusted-broker';
  return undefined;
}

/** The error's message, followed by what to check when it is a security problem. */
export function describeKafkaError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const problem = kafkaSecurityProblem(err);
  return problem === undefined ? message : `${HINTS[problem]} (${message.trim()})`;
}
