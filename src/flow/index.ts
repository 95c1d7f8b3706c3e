/** The flow engine: event-time flow state, per-flow timers and exact delta accounting. */
export { defaultObservationDomainId } from './domain-id.js';
export { createFlowEngine, FlowEngine } from './engine.js';
export {
  flowKey,
  isNodeStateKey,
  nodeOfFlowKey,
  nodeStateKey,
  parseFlowKey,
  type ParsedFlowKey,
} from './key.js';
export { DEFAULT_ENGINE_OPTIONS, resolveEngineOptions } from './options.js';
export * from './types.js';
