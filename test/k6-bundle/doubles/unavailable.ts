// TEST DOUBLE for k6/http and k6/websockets in the device-loop test: the test bundle has no API or WebSocket
// clients (no FLEET_HTTP), so any use of these modules is a bug the test must see.
function unavailable(what: string): never {
  throw new Error(`k6 test double: ${what} is not available in the device-loop test (no FLEET_HTTP was given)`);
}

export default {
  expectedStatuses: () => unavailable('k6/http expectedStatuses'),
  request: () => unavailable('k6/http request'),
};

export class WebSocket {
  constructor() {
    unavailable('k6/websockets WebSocket');
  }
}
