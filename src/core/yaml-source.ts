// The one YAML + JSON-Schema loader for fleetload's input files (profiles; SLO files should move here too): YAML that
// can say on which line a field sits, and JSON-Schema errors that point at those lines.
import Ajv, { type ErrorObject } from 'ajv';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';

/** A parsed YAML file that can say on which line a field sits, so errors can point at it. */
export interface YamlSource {
  file: string;
  data: unknown;
  lineOf(path: ReadonlyArray<string | number>): number | undefined;
}

export class YamlSyntaxError extends Error {}

export function parseYamlSource(file: string, text: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line ?? lineCounter.linePos(e.pos[0]).line;
    throw new YamlSyntaxError(`${file}:${line}: YAML syntax error: ${e.message.split('\n')[0]}`);
  }
  let data: unknown;
  try {
    // fleetload's files need no aliases beyond a few: more is an alias bomb, refused (yaml's own limit: 100)
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new YamlSyntaxError(`${file}: YAML refused: ${(e as Error).message} (too many aliases: an alias bomb?)`);
  }
  return {
    file,
    data,
    lineOf(path) {
      // Walk up to the nearest existing parent so a missing field points at the object that lacks it.
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(path.slice(0, n), true);
        if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
      }
      return undefined;
    },
  };
}

/** ajv's instancePath ("/devices/count") → path segments (["devices", "count"]). */
export function pointerToPath(pointer: string): Array<string | number> {
  if (!pointer) return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

const validators = new Map<string, ReturnType<Ajv['compile']>>();

/**
 * Checks `data` against a JSON Schema (compiled once per `schemaId`, all errors at once). oneOf/anyOf add a summary
 * error after the branch errors; the branch errors say more, so the summary is dropped when there are any.
 */
export function schemaErrors(schemaId: string, loadSchema: () => object, data: unknown): ErrorObject[] {
  let validator = validators.get(schemaId);
  if (!validator) {
    validator = new Ajv({ allErrors: true, strict: false }).compile(loadSchema());
    validators.set(schemaId, validator);
  }
  const errors = validator(data) ? [] : [...(validator.errors ?? [])];
  const specific = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf');
  return specific.length > 0 ? specific : errors;
}
