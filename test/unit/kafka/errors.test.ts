import { describe, expect, it } from 'vitest';
import { describeKafkaError, kafkaSecurityProblem } from '../../../src/kafka/errors.js';

/** An error shaped like kafkajs': a name, a message, the socket error as `originalError`. */
function kafkajsError(name: string, message: string, original?: Error): Error {
  const e = new Error(message);
  e.name = name;
  if (original !== undefined) Object.assign(e, { originalError: original });
  return e;
}

function codeError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('Kafka security errors', () => {
  it.each([
    [
      kafkajsError(
        'KafkaJSSASLAuthenticationError',
        'SASL SCRAM SHA256 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256',
      ),
      'sasl',
    ],
    [
      kafkajsError(
        'KafkaJSNumberOfRetriesExceeded',
        'Connection error: unable to verify the first certificate',
        kafkajsError('KafkaJSConnectionError', 'Connection error: unable to verify the first certificate'),
      ),
      'untrusted-broker',
    ],
    [
      kafkajsError(
        'KafkaJSConnectionError',
        'Connection error: ssl3_read_bytes:sslv3 alert bad certificate: SSL alert number 42',
      ),
      'client-certificate',
    ],
    [
      kafkajsError(
        'KafkaJSConnectionError',
        'Connection error',
        codeError('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"),
      ),
      'broker-name',
    ],
    [
      kafkajsError('KafkaJSConnectionError', 'Connection error: connect ECONNREFUSED 127.0.0.1:9092'),
      undefined,
    ],
  ] as const)('%s -> %s', (err, problem) => {
    expect(kafkaSecurityProblem(err)).toBe(problem);
  });

  it('prefixes the hint naming the settings to check, and keeps the original message', () => {
    const err = kafkajsError(
      'KafkaJSSASLAuthenticationError',
      'SASL PLAIN authentication failed: Invalid username or password',
    );
    expect(describeKafkaError(err)).toBe(
      'SASL authentication refused: check kafka.sasl.mechanism, kafka.sasl.username and the password (SASL PLAIN authentication failed: Invalid username or password)',
    );
    expect(describeKafkaError(new Error('Broker not connected'))).toBe('Broker not connected');
  });
});
