/**
 * A fresh Uint8Array copy of src[start, end). Not `src.slice()`: on a Node Buffer (what the reference server's socket
 * hands over) slice() returns a view into the shared socket memory, not a copy.
 */
export function copyBytes(src: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(src.subarray(start, end));
  return out;
}
