/**
 * ctflow configuration: the one schema, its loading from file/environment/flags, errors, secrets
 * and docs.
 */
export {
  type CollectorAddress,
  type CollectorProtocol,
  parseCollectorUrl,
  parseHostPort,
} from './addresses.js';
export { renderConfigDocs } from './docs.js';
export { CONFIG_FILE_ENV, envLayer, envNameFor } from './env.js';
export { type ConfigProblem, configError } from './errors.js';
export { CONFIG_EXIT_STATUS, configErrorExitStatus, withConfigErrors } from './exit.js';
export { addCommonConfigOptions, addConfigOptions, FLAG_SPECS, type FlagSpec, flagLayer } from './flags.js';
export {
  type ConfigWithOrigins,
  type LoadConfigOptions,
  loadConfig,
  loadConfigWithOrigins,
  parseConfig,
} from './load.js';
export { observationDomainId, observationDomainIdForNode, observationDomainIdOf } from './odid.js';
export { REDACTED, redactConfig, secretLogPaths } from './redact.js';
export { ROLES, type Role, roleProblems } from './roles.js';
export { type Config, type ConfigInput, ConfigSchema, type FieldMeta } from './schema.js';
export { readSecretFile, saslPassword } from './secrets.js';
export { configSections, configSettings, type Section, type Setting, secretKeys } from './settings.js';
