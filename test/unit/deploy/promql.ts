/** PromQL of the Grafana dashboard, parsed with Prometheus' own grammar (@prometheus-io/lezer-promql). */
import { parser } from '@prometheus-io/lezer-promql';

/** A parsed query: whether it has syntax errors, and the metric names it selects. */
export interface ParsedQuery {
  errors: boolean;
  metrics: string[];
}

/**
 * Parses a Grafana query. Grafana's interval variables ($__rate_interval, $__range, ...) stand where
 * PromQL wants a duration, so they become one; other variables appear only inside label matcher
 * strings, where they are text.
 */
export function parseQuery(expr: string): ParsedQuery {
  const promql = expr.replace(/\$__\w+/g, '5m');
  let errors = false;
  const metrics: string[] = [];
  parser.parse(promql).iterate({
    enter(node) {
      if (node.type.isError) errors = true;
      // The metric name of a selector: the Identifier directly under a VectorSelector.
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') {
        metrics.push(promql.slice(node.from, node.to));
      }
    },
  });
  return { errors, metrics };
}
