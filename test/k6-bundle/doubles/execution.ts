// TEST DOUBLE of k6/execution: scenario and VU facts read from the shared double state at the moment of access, so a
// test sets them just before it calls the scenario function (which reads them before its first await).
import { k6Double } from './state.js';

export default {
  get scenario() {
    return { ...k6Double.exec.scenario };
  },
  get vu() {
    return { ...k6Double.exec.vu };
  },
};
