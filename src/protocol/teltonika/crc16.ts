// CRC-16/ARC (Teltonika calls it CRC-16/IBM): reflected poly 0xA001, init 0, no final XOR; check("123456789") = 0xBB3D.
// Not MODBUS (init 0xFFFF) and not CCITT (poly 0x1021), the two variants decoders most often confuse it with.

const TABLE: Uint16Array = (() => {
  const t = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-16/ARC of data[start, end). Table-driven: one lookup per byte keeps whole-frame checks off the decode profile. */
export function crc16Arc(data: Uint8Array, start = 0, end: number = data.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ TABLE[(crc ^ data[i]) & 0xff];
  return crc;
}
