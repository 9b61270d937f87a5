// The JSON shape of one stored position, shared by the HTTP API (rows read back from PostgreSQL) and the WebSocket
// feed (records just committed): the same field names in the same order, so a client can parse both alike.
// Times and `io` are left to the callers: the API reads them from a row as Date and jsonb, the feed has ms numbers
// and io as JSON text that it splices into the message unparsed (one JSON.parse per record saved on the hot path).

/** The position fields of a record, as both the writer and the API name them. */
export interface PositionFields {
  latitude: number;
  longitude: number;
  altitude: number;
  speed: number;
  heading: number;
  satellites: number;
  priority: number;
  eventId: number;
}

/** Exactly the position fields of `r`, in the order every client sees them. */
export function positionJson(r: PositionFields): PositionFields {
  return {
    latitude: r.latitude,
    longitude: r.longitude,
    altitude: r.altitude,
    speed: r.speed,
    heading: r.heading,
    satellites: r.satellites,
    priority: r.priority,
    eventId: r.eventId,
  };
}
