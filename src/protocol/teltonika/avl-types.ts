// Shapes shared by the encoder, the decoder, the simulator and the reference server.

export type Codec = 0x08 | 0x8e;
export const CODEC_8 = 0x08 as const;
export const CODEC_8E = 0x8e as const;

/** IO element as on the wire: raw unsigned value; signedness and scaling are per-ID and belong to the consumer. */
export type IoValue =
  | { id: number; width: 1 | 2 | 4; value: number }
  | { id: number; width: 8; value: bigint }
  | { id: number; width: 'x'; value: Uint8Array };

export type IoWidth = IoValue['width'];

export interface AvlRecord {
  /** ms since epoch (UTC) */
  timestamp: number;
  /** 0 low, 1 high, 2 panic */
  priority: number;
  /** degrees; wire: int32 two's complement × 1e7 */
  longitude: number;
  latitude: number;
  /** metres, signed int16 */
  altitude: number;
  /** degrees 0..360 */
  angle: number;
  satellites: number;
  /** km/h */
  speed: number;
  /** IO id that triggered the record, 0 if none */
  eventId: number;
  /** order preserved; the encoder groups by width as the protocol requires */
  io: IoValue[];
}

export interface AvlPacket {
  codec: Codec;
  records: AvlRecord[];
}

/** Largest AVL packet FMB/FMC devices send (wiki); FMB640 family caps at 512. */
export const DEFAULT_MAX_FRAME_BYTES = 1280;
/** Record count is one byte on the wire. */
export const MAX_RECORDS_PER_PACKET = 255;
/** Preamble 4 + length 4 + CRC field 4: the bytes of a data frame outside Data Field Length. */
export const AVL_FRAME_OVERHEAD = 12;
