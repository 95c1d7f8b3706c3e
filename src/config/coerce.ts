/**
 * Text (environment variables, flags, --set) to typed values, guided by the setting's kind. Text
 * that does not parse is passed through unchanged, so the schema reports it with its value.
 */
import type { Setting, SettingKind } from './settings.js';

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function coerceScalar(text: string, kind: Exclude<SettingKind, 'list'>): unknown {
  const t = text.trim();
  if (kind === 'number' || kind === 'integer') return NUMBER.test(t) ? Number(t) : text;
  if (kind === 'boolean') {
    const l = t.toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(l)) return true;
    if (['false', '0', 'no', 'off'].includes(l)) return false;
    return text;
  }
  return text;
}

/** Converts text to the setting's type: lists are comma-separated (or a JSON array). */
export function coerceText(text: string, setting: Setting): unknown {
  if (setting.kind !== 'list') return coerceScalar(text, setting.kind);
  const itemKind = setting.itemKind ?? 'string';
  if (text.trim().startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed)) return parsed;
    } catch {
      // Not JSON: fall through to the comma-separated form.
    }
  }
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => coerceScalar(s, itemKind));
}
